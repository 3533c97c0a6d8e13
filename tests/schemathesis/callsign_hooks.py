"""Schemathesis hooks for Callsign: requests authenticate as the Azure SDKs do.

CALLSIGN_AUTH=hmac signs each request with the ACS HMAC-SHA256 scheme and the access key in
CALLSIGN_ACCESS_KEY (base64); CALLSIGN_AUTH=bearer sends CALLSIGN_BEARER as a bearer token.
The signature covers the exact bytes sent, so it is computed on the prepared request. The auth
provider only marks a request as authenticated, so schemathesis knows which requests carry
authentication (and its `ignored_auth` check can send one without).
"""

import base64
import hashlib
import hmac
import os
from email.utils import formatdate
from urllib.parse import urlsplit

import requests
import schemathesis

PENDING = "Callsign-pending"
MODE = os.environ.get("CALLSIGN_AUTH", "hmac")


@schemathesis.auth()
class CallsignAuth:
    def get(self, case, context):
        return PENDING

    def set(self, case, data, context):
        case.headers = case.headers or {}
        case.headers["Authorization"] = data


class Authenticate(requests.auth.AuthBase):
    """Turns the marker into real authentication, on the prepared request."""

    def __call__(self, request):
        if request.headers.get("Authorization") != PENDING:
            return request
        if MODE == "bearer":
            request.headers["Authorization"] = "Bearer " + os.environ["CALLSIGN_BEARER"]
            return request
        body = request.body or b""
        if isinstance(body, str):
            body = body.encode()
        url = urlsplit(request.url)
        path = url.path + ("?" + url.query if url.query else "")
        date = formatdate(usegmt=True)
        digest = base64.b64encode(hashlib.sha256(body).digest()).decode()
        to_sign = f"{request.method}\n{path}\n{date};{url.netloc};{digest}"
        key = base64.b64decode(os.environ["CALLSIGN_ACCESS_KEY"])
        signature = base64.b64encode(hmac.new(key, to_sign.encode(), hashlib.sha256).digest()).decode()
        request.headers["x-ms-date"] = date
        request.headers["x-ms-content-sha256"] = digest
        request.headers["Authorization"] = (
            f"HMAC-SHA256 SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature={signature}"
        )
        return request


@schemathesis.hook
def before_call(context, case, kwargs):
    kwargs["auth"] = Authenticate()
