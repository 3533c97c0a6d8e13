"""Signs a request as the ACS SDKs do (HMAC-SHA256 over verb, path, date, host and body hash).

Callsign accepts a signed request again within its 15-minute date window, so wrk can send one
signed request over and over; the harness signs afresh before every wrk run.
"""
import base64
import hashlib
import hmac
from email.utils import formatdate


def signed_headers(key: str, host: str, method: str, path: str, body: str) -> dict[str, str]:
    """The headers that authenticate `method path` with `body` to Callsign at `host`."""
    date = formatdate(usegmt=True)
    digest = base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
    to_sign = f"{method}\n{path}\n{date};{host};{digest}"
    mac = hmac.new(base64.b64decode(key), to_sign.encode(), hashlib.sha256).digest()
    signature = base64.b64encode(mac).decode()
    return {
        "x-ms-date": date,
        "x-ms-content-sha256": digest,
        "Authorization": f"HMAC-SHA256 SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature={signature}",
    }
