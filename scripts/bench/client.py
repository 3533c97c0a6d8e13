"""A small keep-alive client for setting up and probing a running Callsign: signed ACS calls,
built-in accounts and sessions, introspection."""
import http.client
import json
import ssl
import urllib.parse

from sign import signed_headers

API_VERSION = "api-version=2023-10-01"
PASSWORD = "bench-password-not-secret"


def tls_context(cafile: str | None) -> ssl.SSLContext:
    """Trusts `cafile` (the benchmark's own certificate), or anything when it is None."""
    if cafile is None:
        return ssl._create_unverified_context()
    return ssl.create_default_context(cafile=cafile)


class Client:
    """One connection to `base` (`http://host:port` or `https://host:port`), signing with `key`."""

    def __init__(self, base: str, key: str, cafile: str | None = None, timeout: float = 30):
        url = urllib.parse.urlsplit(base)
        self.host = url.netloc
        if url.scheme == "https":
            self.conn = http.client.HTTPSConnection(self.host, timeout=timeout, context=tls_context(cafile))
        else:
            self.conn = http.client.HTTPConnection(self.host, timeout=timeout)
        self.key = key

    def close(self) -> None:
        self.conn.close()

    def request(self, method: str, path: str, body: str = "", signed: bool = True) -> tuple[int, dict]:
        headers = {"Content-Type": "application/json"}
        if signed:
            headers |= signed_headers(self.key, self.host, method, path, body)
        try:
            self.conn.request(method, path, body=body.encode() or None, headers=headers)
            response = self.conn.getresponse()
        except (http.client.HTTPException, OSError):
            # A server may close an idle keep-alive connection: reconnect once.
            self.conn.close()
            self.conn.request(method, path, body=body.encode() or None, headers=headers)
            response = self.conn.getresponse()
        raw = response.read()
        return response.status, json.loads(raw) if raw else {}

    def expect(self, status: int, method: str, path: str, body: dict | None = None, signed: bool = True) -> dict:
        got, answer = self.request(method, path, json.dumps(body) if body is not None else "", signed)
        if got != status:
            raise RuntimeError(f"{method} {path}: expected {status}, got {got}: {answer}")
        return answer

    def create_identity(self) -> str:
        return self.expect(201, "POST", f"/identities?{API_VERSION}", {})["identity"]["id"]

    def issue_token(self, identity: str) -> str:
        return self.expect(200, "POST", issue_path(identity), {"scopes": ["chat", "voip"]})["token"]

    def revoke(self, identity: str) -> None:
        self.expect(204, "POST", identity_path(identity, ":revokeAccessTokens"), {})

    def is_active(self, token: str) -> bool:
        return self.expect(200, "POST", "/tokens/:introspect", {"token": token})["active"]

    def create_account(self, username: str) -> None:
        self.expect(201, "POST", "/v1/accounts", {"username": username, "password": PASSWORD})

    def sign_in(self, username: str) -> str:
        """A new session of `username`; returns its refresh token."""
        body = {"username": username, "password": PASSWORD}
        return self.expect(201, "POST", "/v1/sessions", body, signed=False)["refreshToken"]


def identity_path(identity: str, action: str) -> str:
    encoded = urllib.parse.quote(identity, safe="")
    return f"/identities/{encoded}/{action}?{API_VERSION}"


def issue_path(identity: str) -> str:
    return identity_path(identity, ":issueAccessToken")
