// WebAuthn for the officers' console: the one script of the site (no inline script).
// Registration at first login and login with a security key; TOTP works without it.
"use strict";
(function () {
  function b64urlToBytes(value) {
    const pad = "=".repeat((4 - (value.length % 4)) % 4);
    const raw = atob((value + pad).replace(/-/g, "+").replace(/_/g, "/"));
    return Uint8Array.from(raw, (c) => c.charCodeAt(0));
  }
  function bytesToB64url(buffer) {
    const bytes = new Uint8Array(buffer);
    let raw = "";
    bytes.forEach((b) => { raw += String.fromCharCode(b); });
    return btoa(raw).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }
  async function post(url, csrf, body) {
    const response = await fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: body === undefined ? "{}" : JSON.stringify(body),
    });
    const data = await response.json().catch(() => ({ error: "unexpected answer" }));
    if (!response.ok) { throw new Error(data.error || ("refused (" + response.status + ")")); }
    return data;
  }
  async function run(section) {
    const purpose = section.dataset.purpose;
    const csrf = section.dataset.csrf;
    const options = await post("/login/webauthn/" + purpose + "/options", csrf);
    options.challenge = b64urlToBytes(options.challenge);
    let credential;
    if (purpose === "register") {
      options.user.id = b64urlToBytes(options.user.id);
      (options.excludeCredentials || []).forEach((c) => { c.id = b64urlToBytes(c.id); });
      credential = await navigator.credentials.create({ publicKey: options });
    } else {
      (options.allowCredentials || []).forEach((c) => { c.id = b64urlToBytes(c.id); });
      credential = await navigator.credentials.get({ publicKey: options });
    }
    const r = credential.response;
    const answer = {
      id: credential.id,
      rawId: bytesToB64url(credential.rawId),
      type: credential.type,
      clientExtensionResults: credential.getClientExtensionResults(),
      response: { clientDataJSON: bytesToB64url(r.clientDataJSON) },
    };
    if (purpose === "register") {
      answer.response.attestationObject = bytesToB64url(r.attestationObject);
      if (r.getTransports) { answer.response.transports = r.getTransports(); }
    } else {
      answer.response.authenticatorData = bytesToB64url(r.authenticatorData);
      answer.response.signature = bytesToB64url(r.signature);
      if (r.userHandle) { answer.response.userHandle = bytesToB64url(r.userHandle); }
    }
    const result = await post("/login/webauthn/" + purpose + "/verify", csrf, answer);
    window.location.assign(result.next);
  }
  document.addEventListener("DOMContentLoaded", function () {
    const section = document.querySelector("[data-purpose]");
    const button = document.getElementById("webauthn-go");
    if (!section || !button) { return; }
    if (!window.PublicKeyCredential) { section.hidden = true; return; }
    button.addEventListener("click", function () {
      const error = document.getElementById("webauthn-error");
      error.hidden = true;
      run(section).catch(function (e) { error.textContent = String(e.message || e); error.hidden = false; });
    });
  });
})();
