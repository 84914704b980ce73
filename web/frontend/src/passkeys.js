// Passkeys (WebAuthn) on the security page, the second sign-in step and the sign-in dialog: buttons marked
// data-passkey="register" | "sign-in" ask the server for options, the browser's authenticator for a credential, and
// hand it back (accounts/security.py). The words are the page's (#passkey-strings, JSON from the template).
const strings = JSON.parse(document.getElementById("passkey-strings")?.textContent || "{}");
const b64 = (buffer) => btoa(String.fromCharCode(...new Uint8Array(buffer)))
  .replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
const bytes = (text) => Uint8Array.from(atob(text.replace(/-/g, "+").replace(/_/g, "/")), (c) => c.charCodeAt(0));
const csrf = () => document.querySelector("input[name=csrfmiddlewaretoken]")?.value || "";

function creationOptions(o) {
  return { ...o, challenge: bytes(o.challenge), user: { ...o.user, id: bytes(o.user.id) },
    excludeCredentials: (o.excludeCredentials || []).map((c) => ({ ...c, id: bytes(c.id) })) };
}
function requestOptions(o) {
  return { ...o, challenge: bytes(o.challenge), allowCredentials: (o.allowCredentials || []).map((c) => ({ ...c, id: bytes(c.id) })) };
}
function credentialJSON(c) {
  const r = c.response, response = { clientDataJSON: b64(r.clientDataJSON) };
  if (r.attestationObject) {
    response.attestationObject = b64(r.attestationObject);
    response.transports = r.getTransports ? r.getTransports() : [];
  } else {
    response.authenticatorData = b64(r.authenticatorData);
    response.signature = b64(r.signature);
    if (r.userHandle) response.userHandle = b64(r.userHandle);
  }
  return { id: c.id, rawId: b64(c.rawId), type: c.type, response, clientExtensionResults: c.getClientExtensionResults(),
    authenticatorAttachment: c.authenticatorAttachment || undefined };
}

async function post(url, body) {
  const response = await fetch(url, { method: "POST", credentials: "same-origin",
    headers: { "X-CSRFToken": csrf(), "Content-Type": "application/json" }, body: JSON.stringify(body || {}) });
  const answer = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(answer.detail || strings.failed);
  return answer;
}

async function run(button) {
  const status = document.getElementById(button.dataset.status || "passkey-status");
  const say = (text, alert) => {
    if (!status) return;
    status.textContent = text;
    status.setAttribute("role", alert ? "alert" : "status");
  };
  if (!window.PublicKeyCredential) return say(strings.unsupported, true);
  button.disabled = true;
  say(strings.working);
  try {
    if (button.dataset.passkey === "register") {
      const options = await post(button.dataset.options);
      let credential;
      try { credential = await navigator.credentials.create({ publicKey: creationOptions(options) }); } catch { return say(strings.cancelled, true); }
      const name = document.getElementById(button.dataset.nameInput)?.value.trim() || "";
      await post(button.dataset.url, { name, credential: credentialJSON(credential) });
      say(strings.added);
      window.location.reload();
    } else {
      const options = await post(button.dataset.options);
      let credential;
      try { credential = await navigator.credentials.get({ publicKey: requestOptions(options) }); } catch { return say(strings.cancelled, true); }
      const answer = await post(button.dataset.url, { credential: credentialJSON(credential), next: button.dataset.next || "/" });
      window.location.assign(answer.next);
    }
  } catch (error) {
    say(error.message, true);
  } finally {
    button.disabled = false;
  }
}

for (const button of document.querySelectorAll("[data-passkey]")) button.addEventListener("click", () => run(button));
