/**
 * Signing in: a small dialog to paste a bearer token, checked with
 * GET /api/whoami and kept in sessionStorage (this tab only, gone when it
 * closes). The header shows the holder's name and role; signing out forgets
 * the token. The websocket offers the token from its next (re)connection on
 * (connection.js).
 */

import { state, invalidate } from "./store.js";
import { t, onLangChange } from "./i18n.js";
import { getJson, onTokenRefused, setToken } from "./api.js";
import * as valid from "./validate.js";
import { roleLabel } from "./labels.js";

const KEY = "citybrain.token";
const ui = {};

function storedToken() {
  try {
    return sessionStorage.getItem(KEY);
  } catch (err) {
    return null;
  }
}

function storeToken(token) {
  try {
    if (token) sessionStorage.setItem(KEY, token); else sessionStorage.removeItem(KEY);
  } catch (err) {
    console.warn("citybrain: session storage unavailable; the sign-in lasts until reload", err);
  }
}

function setMe(me, signedIn) {
  state.me = { name: me.name, role: me.role, desks: me.desks || [], signedIn };
  renderUser();
  invalidate("me");
}

function renderUser() {
  const { me } = state;
  ui.user.textContent = me.signedIn ? t("auth.user", { name: me.name, role: roleLabel(me.role) }) : roleLabel(me.role);
  ui.user.dataset.role = me.role;
  ui.user.title = me.desks.length ? me.desks.join(", ") : "";
  ui.button.textContent = t(me.signedIn ? "auth.signout" : "auth.signin");
  ui.button.dataset.signedIn = me.signedIn ? "true" : "false";
}

/** Who the anonymous caller is (role may be "viewer", or the request may be refused). */
async function loadAnonymous() {
  try {
    const me = valid.whoami(await getJson("/api/whoami", { anonymous: true }));
    if (me) setMe(me, false);
  } catch (err) {
    setMe({ name: "anonymous", role: "viewer", desks: [] }, false);
  }
}

function signOut(notice) {
  setToken(null);
  storeToken(null);
  loadAnonymous();
  if (notice) showNotice(notice);
}

function showNotice(text) {
  ui.notice.textContent = text;
  ui.notice.hidden = false;
  setTimeout(() => { ui.notice.hidden = true; }, 8000);
}

async function submit(ev) {
  ev.preventDefault();
  const token = ui.input.value.trim();
  if (!token) return;
  ui.error.textContent = t("auth.checking");
  ui.submit.disabled = true;
  try {
    const me = valid.whoami(await getJson("/api/whoami", { tokenOverride: token }));
    if (!me) throw new Error("bad answer");
    setToken(token);
    storeToken(token);
    setMe(me, true);
    ui.input.value = "";
    ui.error.textContent = "";
    ui.dialog.close();
    ui.button.focus();
  } catch (err) {
    ui.error.textContent = err.status === 401 ? t("auth.invalid") : `${t("auth.invalid")}: ${err.message || err}`;
  } finally {
    ui.submit.disabled = false;
  }
}

export async function initAuth() {
  Object.assign(ui, {
    user: document.getElementById("user-name"),
    button: document.getElementById("signin-button"),
    dialog: document.getElementById("signin-dialog"),
    form: document.getElementById("signin-form"),
    input: document.getElementById("token-input"),
    error: document.getElementById("signin-error"),
    submit: document.getElementById("signin-submit"),
    cancel: document.getElementById("signin-cancel"),
    notice: document.getElementById("auth-notice"),
  });
  ui.button.addEventListener("click", () => {
    if (state.me.signedIn) { signOut(null); return; }
    ui.error.textContent = "";
    ui.dialog.showModal();
    ui.input.focus();
  });
  ui.form.addEventListener("submit", submit);
  ui.cancel.addEventListener("click", () => ui.dialog.close());
  onTokenRefused(() => signOut(t("auth.expired")));
  onLangChange(renderUser);

  const token = storedToken();
  if (token) {
    try {
      const me = valid.whoami(await getJson("/api/whoami", { tokenOverride: token }));
      if (me) {
        setToken(token);
        setMe(me, true);
        return;
      }
    } catch (err) {
      setToken(null);
      storeToken(null);
      if (err.status === 401) showNotice(t("auth.expired"));
    }
  }
  await loadAnonymous();
}

/**
 * Use the token this tab signed in with before, at once (initAuth checks it): the
 * websocket opens before the check and must offer it when anonymous callers are
 * turned away.
 */
export function adoptStoredToken() {
  const token = storedToken();
  if (token) setToken(token);
}
