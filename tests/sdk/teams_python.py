"""The official Python SDK's get_token_for_teams_user against a running Callsign.

Run by tests/api/org_users.rs with CALLSIGN_CONNECTION_STRING, REQUESTS_CA_BUNDLE and
CALLSIGN_ORG_CASES: the app and user ids, a valid organisation user's token, and the refusals
to expect (each a token, appId and userId with the status and error code Callsign must answer).
Prints the exchanged token on stdout and OK on stderr.
"""

import json
import os
import sys
import time
from datetime import datetime

from azure.communication.identity import CommunicationIdentityClient
from azure.core.exceptions import HttpResponseError

cases = json.loads(os.environ["CALLSIGN_ORG_CASES"])
client = CommunicationIdentityClient.from_connection_string(
    os.environ["CALLSIGN_CONNECTION_STRING"]
)

exchanged = client.get_token_for_teams_user(cases["valid"], cases["appId"], cases["userId"])
assert exchanged.token.count(".") == 2, exchanged
# The SDK hands expiresOn over as the string the server sent.
expires_on = datetime.fromisoformat(exchanged.expires_on.replace("Z", "+00:00"))
assert expires_on.timestamp() > time.time(), exchanged.expires_on

for case in cases["refusals"]:
    try:
        client.get_token_for_teams_user(case["token"], case["appId"], case["userId"])
    except HttpResponseError as error:
        code = error.response.json()["error"]["code"]
        assert (error.status_code, code) == (case["status"], case["code"]), (
            case["name"],
            error.status_code,
            code,
        )
    else:
        raise AssertionError(f"{case['name']}: the token was exchanged")

print(exchanged.token)
print("OK", file=sys.stderr)
