// The official Azure JS SDK (@azure/communication-identity) against a running Callsign.
// Run by tests/api/sdk_js.rs with CALLSIGN_CONNECTION_STRING and NODE_EXTRA_CA_CERTS set.
import assert from "node:assert/strict";
import { test } from "node:test";
import { CommunicationIdentityClient } from "@azure/communication-identity";
import { AzureCommunicationTokenCredential } from "@azure/communication-common";

const client = new CommunicationIdentityClient(process.env.CALLSIGN_CONNECTION_STRING);

function expClaim(token) {
  return JSON.parse(Buffer.from(token.split(".")[1], "base64url").toString()).exp;
}

test("createUser", async () => {
  const user = await client.createUser();
  assert.match(user.communicationUserId, /^8:acs:/);
});

test("createUserAndToken reports the token's expiry", async () => {
  const { user, token, expiresOn } = await client.createUserAndToken(["chat", "voip"]);
  assert.match(user.communicationUserId, /^8:acs:/);
  assert.equal(Math.floor(expiresOn.getTime() / 1000), expClaim(token));
});

test("getToken with scopes and lifetimes", async () => {
  const user = await client.createUser();
  for (const [scopes, minutes] of [[["chat"], 60], [["voip.join", "chat.join"], 1440], [["chat.join.limited"], 90]]) {
    const { token, expiresOn } = await client.getToken(user, scopes, { tokenExpiresInMinutes: minutes });
    const lifetime = expClaim(token) - Date.now() / 1000;
    assert.ok(Math.abs(lifetime - minutes * 60) < 60, `${scopes}: ${lifetime}`);
    assert.equal(Math.floor(expiresOn.getTime() / 1000), expClaim(token));
  }
});

test("lifetime out of range is a 400", async () => {
  const user = await client.createUser();
  await assert.rejects(client.getToken(user, ["chat"], { tokenExpiresInMinutes: 59 }), (e) => e.statusCode === 400);
});

test("revokeTokens and deleteUser", async () => {
  const user = await client.createUser();
  await client.revokeTokens(user);
  await client.getToken(user, ["chat"]);
  await client.deleteUser(user);
  await assert.rejects(client.getToken(user, ["chat"]), (e) => e.statusCode === 404 && e.code === "IdentityNotFound");
});

test("AzureCommunicationTokenCredential reads the expiry", async () => {
  const user = await client.createUser();
  const { token } = await client.getToken(user, ["chat"], { tokenExpiresInMinutes: 120 });
  const credential = new AzureCommunicationTokenCredential(token);
  const access = await credential.getToken();
  assert.equal(access.token, token);
  assert.equal(access.expiresOnTimestamp, expClaim(token) * 1000);
});
