// The official JS SDK, unchanged, authenticating with a TokenCredential instead of an access
// key: its getToken runs the client-credentials grant at the organisation's identity provider,
// and the SDK sends `Authorization: Bearer` itself. Run by tests/api/sdk_js.rs with
// CALLSIGN_ENDPOINT, CALLSIGN_IDP_TOKEN_URL and NODE_EXTRA_CA_CERTS set. Prints the last
// access token it was issued on stdout.
import assert from "node:assert/strict";
import { CommunicationIdentityClient } from "@azure/communication-identity";

const endpoint = process.env.CALLSIGN_ENDPOINT;
const tokenUrl = process.env.CALLSIGN_IDP_TOKEN_URL;

function clientCredentials(clientId) {
  const scopesSeen = [];
  return {
    scopesSeen,
    async getToken(scopes) {
      scopesSeen.push(...[scopes].flat());
      const response = await fetch(tokenUrl, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({
          grant_type: "client_credentials",
          client_id: clientId,
          client_secret: `${clientId}-secret`,
          scope: [scopes].flat().join(" "),
        }),
      });
      assert.equal(response.status, 200);
      const body = await response.json();
      return { token: body.access_token, expiresOnTimestamp: Date.now() + body.expires_in * 1000 };
    },
  };
}

const credential = clientCredentials("backend-by-role");
const client = new CommunicationIdentityClient(endpoint, credential);
const user = await client.createUser();
const { token } = await client.getToken(user, ["chat"]);
assert.equal(token.split(".").length, 3);
const second = await client.createUserAndToken(["voip"]);
await client.revokeTokens(second.user);
await client.deleteUser(second.user);
assert.ok(credential.scopesSeen.some((scope) => scope.includes("communication.azure.com")), credential.scopesSeen);

const stranger = new CommunicationIdentityClient(endpoint, clientCredentials("stranger"));
await assert.rejects(stranger.createUser(), (error) => error.statusCode === 403);

console.log(second.token);
console.error("OK");
