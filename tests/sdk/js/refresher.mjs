// The JS SDK's AzureCommunicationTokenCredential kept fresh by a tokenRefresher that calls
// Callsign's session refresh, as a client app does; and an ended session is an error, not a
// hang. Run by tests/api/sdk_js.rs with CALLSIGN_BASE_URL, CALLSIGN_REFRESH_TOKEN and
// NODE_EXTRA_CA_CERTS set. Prints the last access token on stdout.
import assert from "node:assert/strict";
import { AzureCommunicationTokenCredential } from "@azure/communication-common";

const base = process.env.CALLSIGN_BASE_URL;
let refreshToken = process.env.CALLSIGN_REFRESH_TOKEN;
let calls = 0;

const b64 = (value) => Buffer.from(JSON.stringify(value)).toString("base64url");
const expClaim = (token) => JSON.parse(Buffer.from(token.split(".")[1], "base64url").toString()).exp;
const post = (path, body) =>
  fetch(`${base}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });

async function tokenRefresher() {
  calls += 1;
  const response = await post("/v1/sessions/refresh", { refreshToken });
  if (!response.ok) {
    const { error } = await response.json();
    throw Object.assign(new Error(`refresh refused: ${error.code}`), { statusCode: response.status });
  }
  const body = await response.json();
  refreshToken = body.refreshToken;
  return body.accessToken.token;
}

// A token the app kept from before, already expired: the credential must refresh it.
const expired = `${b64({ alg: "HS256" })}.${b64({ exp: Math.floor(Date.now() / 1000) - 60 })}.sig`;

const credential = new AzureCommunicationTokenCredential({ token: expired, tokenRefresher });
const first = await credential.getToken();
assert.equal(calls, 1);
assert.notEqual(first.token, expired);
assert.equal(first.expiresOnTimestamp, expClaim(first.token) * 1000);
assert.ok(first.expiresOnTimestamp > Date.now() + 3000 * 1000);
assert.equal((await credential.getToken()).token, first.token);
assert.equal(calls, 1);
credential.dispose();

const proactive = new AzureCommunicationTokenCredential({
  tokenRefresher,
  refreshProactively: true,
});
const second = await proactive.getToken();
assert.equal(calls, 2);
assert.notEqual(second.token, first.token);
proactive.dispose();

// Signing out everywhere ends the session: the next refresh is a 401, rejected at once.
assert.equal((await post("/v1/sessions/sign-out-everywhere", { refreshToken })).status, 204);
const ended = new AzureCommunicationTokenCredential({ token: expired, tokenRefresher });
const started = Date.now();
await assert.rejects(ended.getToken(), (error) => error.statusCode === 401);
assert.ok(Date.now() - started < 5000);
ended.dispose();

console.log(second.token);
console.error("OK");
