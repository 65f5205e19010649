// @ts-check
// The console: Firebase sign-in, then one page per path with its state in the query string.
// Hosting gives the Firebase configuration at /__/firebase/init.json; locally it also names the
// Auth emulator.

import { initializeApp } from "/vendor/firebase/firebase-app.js";
import {
  GoogleAuthProvider, connectAuthEmulator, getAuth, onIdTokenChanged, signInWithEmailAndPassword,
  signInWithPopup, signOut,
} from "/vendor/firebase/firebase-auth.js";
import { ApiError, setTokenSource } from "./api.js";
import { h, message, replace } from "./ui.js";
import { markCurrent, menuBehaviour, navLinks, pageFor } from "./pages.js";

/** @import { Auth, User } from "/vendor/firebase/firebase-auth.js" */

/**
 * An element of index.html.
 * @param {string} id
 */
function byId(id) {
  const el = document.getElementById(id);
  if (!el) throw new Error(`index.html has no #${id}`);
  return el;
}

const main = byId("main");
const nav = byId("nav");
const account = byId("account");
const REFRESH_MS = 10_000;
/** @type {Auth} */
let auth;
/** @type {{ user: User, role: "admin" | "analytics" } | null} */
let session = null;
/** @type {{ name: string, token: object, refresh: (() => Promise<void>) | null } | null} */
let current = null;
/** @type {ReturnType<typeof setTimeout> | undefined} */
let timer;
/** @type {import("/vendor/firebase/firebase-app.js").FirebaseOptions & { authEmulatorUrl?: string }} */
let config = {};

replace(nav, navLinks());
menuBehaviour(nav);

/**
 * @param {string} path
 * @param {URLSearchParams} [params]
 * @param {{ replaceState?: boolean }} [options]
 */
function navigate(path, params, { replaceState = false } = {}) {
  const url = new URL(path, location.origin);
  if (params) url.search = new URLSearchParams(params).toString();
  if (url.pathname + url.search === location.pathname + location.search) return;
  history[replaceState ? "replaceState" : "pushState"]({}, "", url);
  route({ focus: true });
}

// Links with data-nav (and every same-origin link inside main) change the page without a reload.
document.addEventListener("click", (event) => {
  const link = event.target instanceof Element ? event.target.closest("a[href]") : null;
  if (!(link instanceof HTMLAnchorElement) || event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey) return;
  const url = new URL(link.href, location.origin);
  if (url.origin !== location.origin || link.hasAttribute("download") || url.pathname.startsWith("/api/")) return;
  event.preventDefault();
  // Keep the window and provider when moving between pages from the navigation bar.
  if (link.hasAttribute("data-nav")) {
    const keep = new URLSearchParams();
    const here = new URLSearchParams(location.search);
    for (const key of ["window", "from", "to", "provider"]) {
      const value = here.get(key);
      if (value !== null) keep.set(key, value);
    }
    url.search = keep.toString();
  }
  navigate(url.pathname + url.search);
});
window.addEventListener("popstate", () => route({ focus: true }));
document.addEventListener("visibilitychange", () => schedule());

function schedule() {
  clearTimeout(timer);
  timer = undefined;
  const refresh = current?.refresh;
  if (!refresh || document.visibilityState !== "visible") return;
  timer = setTimeout(async () => {
    try {
      await refresh();
      performance.mark("console:refreshed");
    } catch (error) {
      // Keep the figures shown (their "updated" time says how old they are); try again later.
      console.warn("refresh failed:", error instanceof Error ? error.message : error);
    } finally {
      schedule();
    }
  }, REFRESH_MS);
}

// After a change of page (not the first load) the focus moves to the new page's content, so a
// screen reader announces it and Tab continues from there.
/** @param {{ focus?: boolean }} [options] */
async function route({ focus = false } = {}) {
  clearTimeout(timer);
  if (!session) return;
  const { page, args } = pageFor(location.pathname);
  const name = page.name;
  markCurrent(nav, name);
  // The page renders into a view of its own, shown only if the user is still on it.
  const view = h("div", { class: "view" });
  /** @type {import("./pages.js").PageContext} */
  const context = {
    main: view,
    args,
    params: new URLSearchParams(location.search),
    role: session.role,
    isAdmin: session.role === "admin",
    navigate,
  };
  const token = {};
  current = { name, token, refresh: null };
  main.dataset.ready = "loading";
  document.title = `${page.title(args)} · Generation monitor`;
  try {
    const refresh = await (await page.load()).render(context);
    if (current?.token !== token) return; // the user moved on (or signed out) meanwhile
    replace(main, view);
    current.refresh = refresh || null;
    main.dataset.ready = name;
    performance.mark(`console:ready:${name}`); // the figures are on screen (bench/console_bench.py)
    if (focus) main.focus({ preventScroll: true });
    schedule();
  } catch (error) {
    if (current?.token !== token) return;
    showError(error);
    if (focus) main.focus({ preventScroll: true });
  }
}

/** @param {unknown} error */
function showError(error) {
  main.dataset.ready = "error";
  const status = error instanceof ApiError ? error.status : 0;
  const text = error instanceof Error ? error.message : String(error);
  if (status === 400) {
    replace(main, h("h1", {}, "This link cannot be shown"),
      message("error", "The page's address has a value the console cannot use.", text),
      h("p", {}, h("a", { href: location.pathname }, "Open this page with the default settings")));
  } else if (status === 403) {
    replace(main, h("h1", {}, "Not allowed"), message("error", "Your role does not allow this.", text));
  } else if (status === 404) {
    replace(main, h("h1", {}, "Not found"), message("error", "There is nothing here.", text),
      h("p", {}, h("a", { href: "/", "data-nav": true }, "Back to the overview")));
  } else {
    replace(main, h("h1", {}, "Something went wrong"),
      message("error", "The console could not load this page.", text || String(error)),
      h("p", {}, h("button", { type: "button", onclick: () => route() }, "Try again")));
  }
}

/** @param {string} [problem] */
function signInPage(problem) {
  nav.hidden = true;
  replace(account);
  const email = h("input", { id: "email", type: "email", autocomplete: "username", required: true });
  const password = h("input", { id: "password", type: "password", autocomplete: "current-password", required: true });
  const status = h("div", { "aria-live": "polite" }, problem ? message("error", problem) : null);
  const button = h("button", { class: "primary", type: "submit" }, "Sign in");
  const form = h("form", { class: "panel signin", onsubmit: async (/** @type {SubmitEvent} */ event) => {
    event.preventDefault();
    button.disabled = true;
    replace(status, h("p", { class: "muted" }, "Signing in…"));
    try {
      await signInWithEmailAndPassword(auth, email.value.trim(), password.value);
    } catch (error) {
      replace(status, message("error", "Sign-in failed.", readableAuthError(error)));
      button.disabled = false;
    }
  } },
  h("h1", {}, "Sign in"),
  h("p", { class: "muted" }, "The generation platform's monitoring console."),
  h("div", { class: "field" }, h("label", { for: "email" }, "Email"), email),
  h("div", { class: "field" }, h("label", { for: "password" }, "Password"), password),
  button,
  // Google sign-in where the project enables it (production); the local Auth emulator has
  // email and password users only.
  config.authEmulatorUrl ? null : h("button", { type: "button", onclick: () => signInWithPopup(auth, new GoogleAuthProvider()).catch((error) => replace(status, message("error", "Sign-in failed.", readableAuthError(error)))) }, "Sign in with Google"),
  status);
  main.dataset.ready = "signin";
  document.title = "Sign in · Generation monitor";
  replace(main, form);
  email.focus();
}

/** @param {unknown} error */
function readableAuthError(error) {
  const code = error instanceof Error && "code" in error ? String(error.code) : "";
  if (code.includes("invalid-credential") || code.includes("wrong-password") || code.includes("user-not-found")) {
    return "The email or password is not right.";
  }
  if (code.includes("too-many-requests")) return "Too many attempts; wait a minute and try again.";
  if (code.includes("network")) return "The sign-in service did not answer.";
  return error instanceof Error ? error.message : String(error);
}

/**
 * @param {User} user
 * @param {string | null} role
 */
function accountBar(user, role) {
  replace(account,
    h("span", {}, user.email || user.uid, " · ", h("strong", {}, role || "no role")),
    h("button", { type: "button", onclick: () => signOut(auth) }, "Sign out"));
}

/** @param {User} user */
function noRolePage(user) {
  nav.hidden = true;
  accountBar(user, null);
  main.dataset.ready = "no-role";
  document.title = "No access · Generation monitor";
  replace(main, h("h1", {}, "No access yet"),
    message("error", `You are signed in as ${user.email || user.uid}, but your account has no role in this console.`,
      "Ask an administrator to grant you the analytics role (read) or the admin role (read and act)."));
}

async function start() {
  try {
    config = await (await fetch("/__/firebase/init.json")).json();
  } catch (error) {
    replace(main, message("error", "The console's configuration could not be loaded.", String(error)));
    return;
  }
  const app = initializeApp(config);
  auth = getAuth(app);
  if (config.authEmulatorUrl) connectAuthEmulator(auth, config.authEmulatorUrl, { disableWarnings: true });
  setTokenSource(async () => {
    if (!auth.currentUser) throw new ApiError(401, "unauthenticated", "Not signed in.");
    return auth.currentUser.getIdToken();
  });
  /** @type {string | null} */
  let shownFor = null;
  onIdTokenChanged(auth, async (user) => {
    if (!user) {
      clearTimeout(timer);
      session = null;
      shownFor = null;
      current = null;
      signInPage();
      return;
    }
    const { claims } = await user.getIdTokenResult();
    const role = claims.role === "admin" || claims.role === "analytics" ? claims.role : null;
    if (shownFor === `${user.uid}/${role}`) return; // a token refresh: nothing changed
    shownFor = `${user.uid}/${role}`;
    if (!role) {
      clearTimeout(timer);
      session = null;
      current = null;
      noRolePage(user);
      return;
    }
    const fromSignIn = main.dataset.ready === "signin";
    session = { user, role };
    replace(nav, navLinks(role));
    nav.hidden = false;
    accountBar(user, role);
    route({ focus: fromSignIn });
  });
}

start();
