// A real OIDC provider (the certified `oidc-provider` package) for the team
// server's tests: one client, PKCE required, accounts made up from the login
// name typed on its development login form (any password).
//
//   node e2e/oidc-provider.mjs REDIRECT_URI CLIENT_SECRET
//
// Listens on a free 127.0.0.1 port and prints `ready <issuer>` on stdout.
import http from "node:http";
import Provider from "oidc-provider";

const [redirectUri, clientSecret] = process.argv.slice(2);
if (!redirectUri || !clientSecret) {
  console.error("usage: oidc-provider.mjs REDIRECT_URI CLIENT_SECRET");
  process.exit(2);
}

const server = http.createServer();
server.listen(0, "127.0.0.1", () => {
  const issuer = `http://127.0.0.1:${server.address().port}`;
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: "codexos",
        client_secret: clientSecret,
        redirect_uris: [redirectUri],
        grant_types: ["authorization_code"],
        response_types: ["code"],
        token_endpoint_auth_method: "client_secret_basic",
      },
    ],
    pkce: { required: () => true },
    claims: { openid: ["sub"], profile: ["preferred_username"], email: ["email", "email_verified"] },
    // The login name is the account; `other-<name>` is a second identity
    // claiming the same name.
    findAccount: async (_ctx, id) => ({
      accountId: id,
      claims: async () => ({
        sub: id,
        preferred_username: id.replace(/^other-/, ""),
        email: `${id}@example.test`,
        email_verified: true,
      }),
    }),
    features: { devInteractions: { enabled: true } },
    cookies: { keys: ["codexos-test-cookie-key"] },
  });
  provider.on("server_error", (_ctx, error) => console.error("provider error:", error));
  server.on("request", provider.callback());
  console.log(`ready ${issuer}`);
});
process.stdin.on("end", () => process.exit(0));
process.stdin.resume();
