"""The Python SDK's CommunicationTokenCredential kept fresh by a token_refresher that calls
Callsign's session refresh, as a client app does; and an ended session is an error, not a hang.

Run by tests/api/sdk_python.rs with CALLSIGN_BASE_URL, CALLSIGN_REFRESH_TOKEN and
REQUESTS_CA_BUNDLE set. Prints the last access token on stdout.
"""

import base64
import json
import os
import sys
import time

import requests
from azure.core.credentials import AccessToken
from azure.communication.identity._shared.user_credential import CommunicationTokenCredential

BASE = os.environ["CALLSIGN_BASE_URL"]
state = {"refresh_token": os.environ["CALLSIGN_REFRESH_TOKEN"], "calls": 0}


def b64(value):
    return base64.urlsafe_b64encode(json.dumps(value, separators=(",", ":")).encode()).rstrip(b"=").decode()


def exp_claim(token):
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["exp"]


def post(path, body):
    return requests.post(f"{BASE}{path}", json=body, timeout=10)


def refresher():
    """Rotates the refresh token and returns the new access token."""
    state["calls"] += 1
    response = post("/v1/sessions/refresh", {"refreshToken": state["refresh_token"]})
    response.raise_for_status()
    body = response.json()
    state["refresh_token"] = body["refreshToken"]
    token = body["accessToken"]["token"]
    return AccessToken(token, exp_claim(token))


# A token the app kept from before, already expired: the credential must refresh it.
EXPIRED = f'{b64({"alg": "HS256"})}.{b64({"exp": int(time.time()) - 60})}.sig'

credential = CommunicationTokenCredential(EXPIRED, token_refresher=refresher)
first = credential.get_token()
assert state["calls"] == 1, state
assert first.token != EXPIRED and first.expires_on == exp_claim(first.token) > time.time() + 3000
# Fresh tokens are served from the cache, without another refresh.
assert credential.get_token().token == first.token and state["calls"] == 1

with CommunicationTokenCredential(EXPIRED, token_refresher=refresher, proactive_refresh=True) as proactive:
    second = proactive.get_token()
assert state["calls"] == 2 and second.token != first.token

# Signing out everywhere ends the session: the next refresh is a 401, raised at once.
assert post("/v1/sessions/sign-out-everywhere", {"refreshToken": state["refresh_token"]}).status_code == 204
ended = CommunicationTokenCredential(EXPIRED, token_refresher=refresher)
started = time.time()
try:
    ended.get_token()
    raise SystemExit("a refresh after sign-out must fail")
except requests.HTTPError as error:
    assert error.response.status_code == 401, error
    assert error.response.json()["error"]["code"] == "InvalidRefreshToken"
assert time.time() - started < 5

print(second.token)
print("OK", file=sys.stderr)
