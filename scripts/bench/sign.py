"""Signs one request as the ACS SDKs do; prints shell assignments for request.lua.

usage: sign.py <base64 key> <host:port> <path?query> <body>
"""
import base64, hashlib, hmac, shlex, sys
from email.utils import formatdate

key, host, path, body = sys.argv[1:5]
date = formatdate(usegmt=True)
digest = base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
to_sign = f"POST\n{path}\n{date};{host};{digest}"
signature = base64.b64encode(hmac.new(base64.b64decode(key), to_sign.encode(), hashlib.sha256).digest()).decode()
auth = f"HMAC-SHA256 SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature={signature}"
for name, value in [("BENCH_BODY", body), ("BENCH_DATE", date), ("BENCH_HASH", digest), ("BENCH_AUTH", auth)]:
    print(f"export {name}={shlex.quote(value)}")
