// The OpenID Connect provider of the private stacks (geo/localstack.py): panva's oidc-provider (OpenID Certified),
// configured for one client, civgis, with authorization code + PKCE (S256), discovery, JWKS, userinfo and
// RP-initiated logout. Its people are accounts.json; its one page of our own is the sign-in form (the library
// leaves the interaction to the host); consent is implied for the one first-party client.
//
//   node oidc-provider.mjs --port P --client-id ID --client-secret S --redirect-uri URI … --logout-uri URI …
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";

import Provider from "oidc-provider";

const { values: args } = parseArgs({
  options: {
    port: { type: "string" },
    "client-id": { type: "string", default: "civgis" },
    "client-secret": { type: "string" },
    "redirect-uri": { type: "string", multiple: true, default: [] },
    "logout-uri": { type: "string", multiple: true, default: [] },
    accounts: { type: "string", default: new URL("./accounts.json", import.meta.url).pathname },
  },
});
const port = Number(args.port);
const issuer = `http://127.0.0.1:${port}`;
const accounts = JSON.parse(readFileSync(args.accounts, "utf8"));
// a new signing key each start: clients fetch it from the JWKS endpoint
const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
const signingKey = { ...privateKey.export({ format: "jwk" }), kid: randomBytes(8).toString("hex"), use: "sig",
                     alg: "RS256" };

function escape(text) {
  return String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

async function findAccount(ctx, sub) {
  const person = accounts[sub];
  if (!person) return undefined;
  return {
    accountId: sub,
    async claims() {
      return { sub, preferred_username: sub, name: person.name, given_name: person.given_name,
               family_name: person.family_name, email: person.email, email_verified: true,
               agency: person.agency, groups: person.groups };
    },
  };
}

const provider = new Provider(issuer, {
  clients: [{
    client_id: args["client-id"], client_secret: args["client-secret"],
    redirect_uris: args["redirect-uri"], post_logout_redirect_uris: args["logout-uri"],
    grant_types: ["authorization_code"], response_types: ["code"],
    token_endpoint_auth_method: "client_secret_basic",
  }],
  findAccount,
  jwks: { keys: [signingKey] },
  cookies: { keys: [randomBytes(32).toString("hex")] },
  scopes: ["openid", "profile", "email", "groups"],
  claims: { openid: ["sub"], profile: ["name", "given_name", "family_name", "preferred_username"],
            email: ["email", "email_verified"], groups: ["groups", "agency"] },
  pkce: { required: () => true },
  features: { devInteractions: { enabled: false }, rpInitiatedLogout: { enabled: true } },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  // the one client is first-party: the scopes it asks for are granted without a consent page
  async loadExistingGrant(ctx) {
    const clientId = ctx.oidc.client.clientId;
    const grantId = ctx.oidc.result?.consent?.grantId || ctx.oidc.session.grantIdFor(clientId);
    if (grantId) return ctx.oidc.provider.Grant.find(grantId);
    const grant = new ctx.oidc.provider.Grant({ clientId, accountId: ctx.oidc.session.accountId });
    grant.addOIDCScope("openid profile email groups");
    await grant.save();
    ctx.oidc.session.grantIdFor(clientId, grant.jti);
    return grant;
  },
});

function loginPage(uid, message = "") {
  return `<!doctype html><html lang="zh-Hant"><head><meta charset="utf-8"><title>市府帳號登入</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head><body>
<h1>市府帳號登入 <small>City account sign-in (test provider)</small></h1>
${message ? `<p role="alert">${escape(message)}</p>` : ""}
<form method="post" action="/interaction/${escape(uid)}/login">
<label>帳號 Account <input name="login" autocomplete="username" required></label>
<label>密碼 Password <input name="password" type="password" autocomplete="current-password" required></label>
<button type="submit">登入 Sign in</button></form></body></html>`;
}

async function formBody(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  return new URLSearchParams(Buffer.concat(chunks).toString("utf8"));
}

provider.use(async (ctx, next) => {
  const match = ctx.path.match(/^\/interaction\/([^/]+)(\/login)?$/);
  if (!match) return next();
  const details = await provider.interactionDetails(ctx.req, ctx.res);
  if (details.uid !== match[1]) ctx.throw(400, "unknown interaction");
  if (ctx.method === "GET") {
    ctx.type = "html";
    ctx.body = loginPage(details.uid);
    return undefined;
  }
  if (ctx.method !== "POST" || !match[2]) ctx.throw(405);
  const form = await formBody(ctx.req);
  const login = form.get("login") || "";
  const person = accounts[login];
  if (!person || person.password !== form.get("password")) {
    ctx.status = 401;
    ctx.type = "html";
    ctx.body = loginPage(details.uid, "帳號或密碼不正確 Wrong account or password");
    return undefined;
  }
  await provider.interactionFinished(ctx.req, ctx.res, { login: { accountId: login } },
                                     { mergeWithLastSubmission: false });
  return undefined;
});

provider.listen(port, "127.0.0.1", () => {
  console.log(`oidc-provider ${issuer} ready`);
});
