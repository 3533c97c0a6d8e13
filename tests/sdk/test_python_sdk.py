"""The official Azure Python SDK (azure-communication-identity) against a running Callsign.

Run by tests/api/sdk_python.rs with CALLSIGN_CONNECTION_STRING and REQUESTS_CA_BUNDLE set.
"""

import base64
import json
import os
import unittest
from datetime import datetime, timedelta, timezone

from azure.core.exceptions import ClientAuthenticationError, HttpResponseError, ResourceNotFoundError
from azure.communication.identity import (
    CommunicationIdentityClient,
    CommunicationTokenScope,
    CommunicationUserIdentifier,
)
from azure.communication.identity._shared.user_credential import CommunicationTokenCredential

CONNECTION_STRING = os.environ["CALLSIGN_CONNECTION_STRING"]


def parse_expires_on(value):
    # SDK 1.5 returns expiresOn as the raw string the server sent.
    if isinstance(value, datetime):
        return value
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def exp_claim(token):
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["exp"]


class PythonSdk(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.client = CommunicationIdentityClient.from_connection_string(CONNECTION_STRING)

    def test_create_user(self):
        user = self.client.create_user()
        self.assertIsInstance(user, CommunicationUserIdentifier)
        self.assertTrue(user.properties["id"].startswith("8:acs:"))

    def test_create_user_and_token(self):
        user, token = self.client.create_user_and_token(
            [CommunicationTokenScope.CHAT, CommunicationTokenScope.VOIP]
        )
        self.assertTrue(user.properties["id"].startswith("8:acs:"))
        expires = parse_expires_on(token.expires_on)
        self.assertEqual(int(expires.timestamp()), exp_claim(token.token))
        lifetime = expires - datetime.now(timezone.utc)
        self.assertTrue(timedelta(hours=23, minutes=58) < lifetime <= timedelta(hours=24))

    def test_get_token_with_several_scopes_and_lifetimes(self):
        user = self.client.create_user()
        cases = [
            (["chat"], None, 1440),
            (["voip"], timedelta(minutes=60), 60),
            (["chat", "voip"], timedelta(hours=2), 120),
            (["chat.join", "voip.join"], timedelta(minutes=1440), 1440),
            (["chat.join.limited"], timedelta(minutes=61), 61),
        ]
        for scopes, expires_in, minutes in cases:
            with self.subTest(scopes=scopes, minutes=minutes):
                kwargs = {"token_expires_in": expires_in} if expires_in else {}
                token = self.client.get_token(user, scopes, **kwargs)
                lifetime = exp_claim(token.token) - datetime.now(timezone.utc).timestamp()
                self.assertAlmostEqual(lifetime, minutes * 60, delta=60)

    def test_lifetime_out_of_range_is_refused(self):
        user = self.client.create_user()
        for minutes in (59, 1441):
            with self.subTest(minutes=minutes):
                with self.assertRaises(HttpResponseError) as raised:
                    self.client.get_token(user, ["chat"], token_expires_in=timedelta(minutes=minutes))
                self.assertEqual(raised.exception.status_code, 400)

    def test_revoke_tokens(self):
        user, _ = self.client.create_user_and_token(["chat"])
        self.client.revoke_tokens(user)
        self.client.get_token(user, ["chat"])

    def test_delete_user(self):
        user = self.client.create_user()
        self.client.delete_user(user)
        with self.assertRaises(ResourceNotFoundError):
            self.client.get_token(user, ["chat"])
        with self.assertRaises(ResourceNotFoundError):
            self.client.delete_user(user)

    def test_token_credential_reports_the_expiry(self):
        user = self.client.create_user()
        token = self.client.get_token(user, ["chat"], token_expires_in=timedelta(minutes=90))
        with CommunicationTokenCredential(token.token) as credential:
            access = credential.get_token()
        self.assertEqual(access.token, token.token)
        self.assertEqual(access.expires_on, exp_claim(token.token))
        self.assertEqual(access.expires_on, int(parse_expires_on(token.expires_on).timestamp()))

    def test_wrong_key_is_refused(self):
        endpoint = CONNECTION_STRING.split(";")[0]
        wrong = base64.b64encode(os.urandom(64)).decode()
        client = CommunicationIdentityClient.from_connection_string(f"{endpoint};accesskey={wrong}")
        with self.assertRaises(ClientAuthenticationError):
            client.create_user()


if __name__ == "__main__":
    unittest.main(verbosity=2)
