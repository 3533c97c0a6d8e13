"""The official Python SDK, unchanged, authenticating with a TokenCredential instead of an
access key: its get_token runs the client-credentials grant at the organisation's identity
provider, and the SDK sends `Authorization: Bearer` itself.

Run by tests/api/sdk_python.rs with CALLSIGN_ENDPOINT, CALLSIGN_IDP_TOKEN_URL and
REQUESTS_CA_BUNDLE set. Prints the last access token it was issued on stdout.
"""

import os
import sys
import time

import requests
from azure.core.credentials import AccessToken
from azure.core.exceptions import HttpResponseError
from azure.communication.identity import CommunicationIdentityClient, CommunicationTokenScope

ENDPOINT = os.environ["CALLSIGN_ENDPOINT"]
TOKEN_URL = os.environ["CALLSIGN_IDP_TOKEN_URL"]


class ClientCredentials:
    """A TokenCredential: the client-credentials grant of one service principal."""

    def __init__(self, client_id):
        self.client_id = client_id
        self.scopes_seen = []

    def get_token(self, *scopes, **kwargs):
        self.scopes_seen.extend(scopes)
        response = requests.post(
            TOKEN_URL,
            data={
                "grant_type": "client_credentials",
                "client_id": self.client_id,
                "client_secret": f"{self.client_id}-secret",
                "scope": " ".join(scopes),
            },
            timeout=10,
        )
        response.raise_for_status()
        body = response.json()
        return AccessToken(body["access_token"], int(time.time()) + body["expires_in"])


credential = ClientCredentials("backend-allowed")
client = CommunicationIdentityClient(ENDPOINT, credential)
user = client.create_user()
token = client.get_token(user, [CommunicationTokenScope.CHAT])
assert token.token.count(".") == 2
user2, token2 = client.create_user_and_token([CommunicationTokenScope.VOIP])
client.revoke_tokens(user2)
client.delete_user(user2)
assert any("communication.azure.com" in scope for scope in credential.scopes_seen), credential.scopes_seen

stranger = CommunicationIdentityClient(ENDPOINT, ClientCredentials("stranger"))
try:
    stranger.create_user()
    raise SystemExit("a client that is not allowed must be refused")
except HttpResponseError as error:
    assert error.status_code == 403, error

print(token2.token)
print("OK", file=sys.stderr)
