// A real OpenID Connect provider on loopback for the sign-in tests: panva's oidc-provider.
// Usage: node oidc_provider.mjs CONFIG.json, where CONFIG is
//   {"port": N, "clients": [{client_id, client_secret, redirect_uris}],
//    "accounts": {"<login>": {"email", "email_verified", "name"}}, "domain": "<optional>"}
// Its own development sign-in page accepts any of those logins (and any password); with
// "domain", also any address at that domain, as verified (the demo's provider).
// Prints "issuer <url>" once listening.
import { readFileSync } from "node:fs";
import Provider from "oidc-provider";

const config = JSON.parse(readFileSync(process.argv[2], "utf8"));
const issuer = `http://127.0.0.1:${config.port}`;

const provider = new Provider(issuer, {
  clients: config.clients.map((client) => ({
    ...client,
    grant_types: ["authorization_code"],
    response_types: ["code"],
    token_endpoint_auth_method: "client_secret_post",
  })),
  claims: { openid: ["sub"], email: ["email", "email_verified"], profile: ["name"] },
  scopes: ["openid", "email", "profile", "offline_access"],
  features: { devInteractions: { enabled: true } },
  pkce: { required: () => false },
  findAccount: (ctx, sub) => {
    const known =
      config.accounts?.[sub] ??
      (config.domain && sub.toLowerCase().endsWith(`@${config.domain}`)
        ? { email: sub.toLowerCase(), email_verified: true }
        : undefined);
    return known && { accountId: sub, claims: () => ({ sub, ...known }) };
  },
});

provider.listen(config.port, "127.0.0.1", () => console.log(`issuer ${issuer}`));
