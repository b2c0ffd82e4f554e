// Passkeys: adding one on the security page and logging in with one on the
// login page. Each is two JSON requests around the browser's WebAuthn call;
// the server keeps the ceremony's state and checks the answer. Binary
// fields travel as unpadded base64url, as webauthn-rs reads and writes them.
'use strict';

(() => {
  const toBytes = (text) => Uint8Array.from(atob(text.replace(/-/g, '+').replace(/_/g, '/')), (c) => c.charCodeAt(0));
  const toText = (buffer) => btoa(String.fromCharCode(...new Uint8Array(buffer)))
    .replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');

  // Drops null members: WebAuthn's dictionaries take a missing member, not null.
  const withoutNulls = (value) => {
    if (Array.isArray(value)) return value.map(withoutNulls);
    if (value && typeof value === 'object') {
      return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== null).map(([k, v]) => [k, withoutNulls(v)]));
    }
    return value;
  };

  async function postJson(path, body) {
    const response = await fetch(path, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
      body: JSON.stringify(body),
    });
    const answer = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(answer.message || answer.error || t("server_answered", { status: response.status }));
    return answer;
  }

  function say(text) {
    const status = document.getElementById('passkey-status');
    if (!status) return;
    status.textContent = text;
    status.hidden = !text;
  }

  async function addPasskey(form) {
    const { ceremony, options } = await postJson('/account/passkeys/start', {});
    const publicKey = withoutNulls(options.publicKey);
    publicKey.challenge = toBytes(publicKey.challenge);
    publicKey.user.id = toBytes(publicKey.user.id);
    for (const excluded of publicKey.excludeCredentials || []) excluded.id = toBytes(excluded.id);
    const created = await navigator.credentials.create({ publicKey });
    const credential = {
      id: created.id,
      rawId: toText(created.rawId),
      type: created.type,
      response: {
        attestationObject: toText(created.response.attestationObject),
        clientDataJSON: toText(created.response.clientDataJSON),
        transports: created.response.getTransports ? created.response.getTransports() : undefined,
      },
      extensions: created.getClientExtensionResults(),
    };
    await postJson('/account/passkeys/finish', { ceremony, name: form.elements.name.value, credential });
    location.reload();
  }

  async function logIn(button) {
    const { ceremony, options } = await postJson('/login/passkey/start', {});
    const publicKey = withoutNulls(options.publicKey);
    publicKey.challenge = toBytes(publicKey.challenge);
    for (const allowed of publicKey.allowCredentials || []) allowed.id = toBytes(allowed.id);
    // A modal request (the server suggests the autofill kind, which needs a
    // focused username field): the button was pressed for this.
    const got = await navigator.credentials.get({ publicKey });
    const credential = {
      id: got.id,
      rawId: toText(got.rawId),
      type: got.type,
      response: {
        authenticatorData: toText(got.response.authenticatorData),
        clientDataJSON: toText(got.response.clientDataJSON),
        signature: toText(got.response.signature),
        userHandle: got.response.userHandle ? toText(got.response.userHandle) : undefined,
      },
      extensions: got.getClientExtensionResults(),
    };
    const done = await postJson('/login/passkey/finish', { ceremony, credential, next: button.dataset.next || null });
    location.assign(done.next);
  }

  const failed = (error) => say(t("passkey_failed", { reason: error.message }));

  document.addEventListener('DOMContentLoaded', () => {
    const supported = Boolean(window.PublicKeyCredential && navigator.credentials);
    const form = document.getElementById('passkey-add');
    if (form) {
      form.addEventListener('submit', (event) => {
        event.preventDefault();
        say('');
        addPasskey(form).catch(failed);
      });
      if (!supported) form.hidden = true;
    }
    const button = document.getElementById('passkey-login');
    if (button) {
      button.addEventListener('click', () => {
        say('');
        logIn(button).catch(failed);
      });
      if (!supported) button.hidden = true;
    }
  });
})();
