// @ts-check
// The window, provider and comparison controls every figure page shares. Their values live in
// the URL (window, from, to, provider, compare), so a view is a link.

import { get } from "../api.js";
import { WINDOWS, WINDOWS_DEFAULT } from "../contract.js";
import { h } from "../ui.js";

/** @import { Granularity, WindowName } from "../contract.js" */
/** @import { PageContext } from "../pages.js" */

/** @type {Record<WindowName, string>} */
export const WINDOW_LABELS = { "1h": "Last hour", "24h": "Last 24 hours", "7d": "Last 7 days", "30d": "Last 30 days" };
/** @type {Record<WindowName, Granularity>} */
const GRANULARITY = { "1h": "minute", "24h": "hour", "7d": "hour", "30d": "day" };

/**
 * The URL's window if it is one the API offers (else the default).
 * @param {URLSearchParams} params
 * @returns {WindowName}
 */
function windowName(params) {
  const value = params.get("window") || WINDOWS_DEFAULT;
  return WINDOWS.find((w) => w === value) ?? WINDOWS_DEFAULT;
}

/**
 * The API parameters of the URL's window: window (or from/to) and provider, as given, so the
 * API names any value it cannot use.
 * @param {URLSearchParams} params
 * @param {{ provider?: boolean }} [options]
 * @returns {Record<string, string>}
 */
export function windowParams(params, { provider = true } = {}) {
  /** @type {Record<string, string>} */
  const out = {};
  for (const key of ["window", "from", "to", ...(provider ? ["provider"] : [])]) {
    const value = params.get(key);
    if (value !== null) out[key] = value;
  }
  return out;
}

/**
 * The window just before the API's answered window, with the same length.
 * @param {import("../contract.js").TimeWindow} answered
 * @param {string} [provider]
 * @returns {Record<string, string>}
 */
export function previousWindow(answered, provider) {
  const from = Date.parse(answered.from);
  const to = Date.parse(answered.to);
  /** @type {Record<string, string>} */
  const out = { from: new Date(from - (to - from)).toISOString(), to: new Date(from).toISOString() };
  if (provider) out.provider = provider;
  return out;
}

/**
 * The trend buckets that suit the URL's window.
 * @param {URLSearchParams} params
 * @returns {Granularity}
 */
export function granularity(params) {
  const from = params.get("from");
  if (from !== null) {
    const span = Date.parse(params.get("to") || new Date().toISOString()) - Date.parse(from);
    return span <= 3 * 3600e3 ? "minute" : span <= 8 * 86400e3 ? "hour" : "day";
  }
  return GRANULARITY[windowName(params)];
}

/** @type {string[] | null} */
let providerList = null;
let providerListAt = 0;

/**
 * Provider names seen in the last 30 days (kept for five minutes).
 * @returns {Promise<string[]>}
 */
export async function providers() {
  if (!providerList || Date.now() - providerListAt > 300e3) {
    const body = await get("/providers", { window: "30d" });
    providerList = body.providers.map((p) => p.provider).sort();
    providerListAt = Date.now();
  }
  return providerList;
}

/**
 * The control bar; `options` picks which controls the page has.
 * @param {PageContext} context
 * @param {{ provider?: boolean, compare?: boolean, extra?: import("../ui.js").Child[] }} [options]
 */
export async function controlBar(context, { provider = true, compare = false, extra = [] } = {}) {
  const { params, navigate } = context;
  /**
   * @param {string} key
   * @param {string | null} value
   */
  const change = (key, value) => {
    const next = new URLSearchParams(params);
    if (value === "" || value === null) next.delete(key);
    else next.set(key, value);
    if (key === "window") {
      next.delete("from");
      next.delete("to");
    }
    navigate(location.pathname, next);
  };
  /** @param {Event} e */
  const picked = (e) => /** @type {HTMLSelectElement} */ (e.target).value;
  const chosen = params.has("from") ? "custom" : params.get("window") || WINDOWS_DEFAULT;
  const known = WINDOWS.some((w) => w === chosen);
  const windowSelect = h("select", { id: "ctl-window", onchange: (/** @type {Event} */ e) => change("window", picked(e)) },
    WINDOWS.map((value) => h("option", { value, selected: value === chosen }, WINDOW_LABELS[value])),
    chosen === "custom" ? h("option", { value: "custom", selected: true, disabled: true }, "Custom range") : null,
    !known && chosen !== "custom" ? h("option", { value: chosen, selected: true, disabled: true }, chosen) : null);
  const items = [h("div", {}, h("label", { for: "ctl-window" }, "Window"), windowSelect)];
  if (provider) {
    const names = await providers();
    const selected = params.get("provider") || "";
    const providerSelect = h("select", { id: "ctl-provider", onchange: (/** @type {Event} */ e) => change("provider", picked(e)) },
      h("option", { value: "" }, "All providers"),
      names.map((name) => h("option", { value: name, selected: name === selected }, name)),
      selected && !names.includes(selected) ? h("option", { value: selected, selected: true }, selected) : null);
    items.push(h("div", {}, h("label", { for: "ctl-provider" }, "Provider"), providerSelect));
  }
  if (compare) {
    const value = params.get("compare") || "previous";
    const compareSelect = h("select", { id: "ctl-compare", onchange: (/** @type {Event} */ e) => change("compare", picked(e) === "previous" ? "" : picked(e)) },
      h("option", { value: "previous", selected: value === "previous" }, "Previous period"),
      h("option", { value: "none", selected: value === "none" }, "No comparison"));
    items.push(h("div", {}, h("label", { for: "ctl-compare" }, "Compare with"), compareSelect));
  }
  return h("div", { class: "controls", role: "group", "aria-label": "View settings" }, items, extra);
}
