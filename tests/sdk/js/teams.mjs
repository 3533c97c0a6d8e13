// The official Azure JS SDK's getTokenForTeamsUser against a running Callsign. Run by
// tests/api/org_users.rs with CALLSIGN_CONNECTION_STRING, NODE_EXTRA_CA_CERTS and
// CALLSIGN_ORG_CASES (see teams_python.py). Prints the exchanged token on stdout, OK on stderr.
import assert from "node:assert/strict";
import { CommunicationIdentityClient } from "@azure/communication-identity";

const cases = JSON.parse(process.env.CALLSIGN_ORG_CASES);
const client = new CommunicationIdentityClient(process.env.CALLSIGN_CONNECTION_STRING);

const exchange = (teamsUserAadToken, clientId, userObjectId) =>
  client.getTokenForTeamsUser({ teamsUserAadToken, clientId, userObjectId });

const { token, expiresOn } = await exchange(cases.valid, cases.appId, cases.userId);
assert.equal(token.split(".").length, 3);
assert.ok(expiresOn.getTime() > Date.now(), `${expiresOn}`);

for (const refusal of cases.refusals) {
  await assert.rejects(exchange(refusal.token, refusal.appId, refusal.userId), (error) => {
    assert.deepEqual([refusal.name, error.statusCode, error.code], [refusal.name, refusal.status, refusal.code]);
    return true;
  });
}

console.log(token);
console.error("OK");
