// The window, provider and comparison controls every figure page shares. Their values live in
// the URL (window, from, to, provider, compare), so a view is a link.

import { get } from "./api.js";
import { h } from "./ui.js";

export const WINDOWS = { "1h": "Last hour", "24h": "Last 24 hours", "7d": "Last 7 days", "30d": "Last 30 days" };
const WINDOW_MS = { "1h": 3600e3, "24h": 86400e3, "7d": 7 * 86400e3, "30d": 30 * 86400e3 };
const GRANULARITY = { "1h": "minute", "24h": "hour", "7d": "hour", "30d": "day" };

// The API parameters of the URL's window: window (or from/to) and provider, as given, so the
// API names any value it cannot use.
export function windowParams(params, { provider = true } = {}) {
  const out = {};
  for (const key of ["window", "from", "to"]) if (params.has(key)) out[key] = params.get(key);
  if (provider && params.has("provider")) out.provider = params.get("provider");
  return out;
}

// The window just before the API's answered window, with the same length.
export function previousWindow(answered, provider) {
  const from = Date.parse(answered.from);
  const to = Date.parse(answered.to);
  const out = { from: new Date(from - (to - from)).toISOString(), to: new Date(from).toISOString() };
  if (provider) out.provider = provider;
  return out;
}

export function granularity(params) {
  if (params.has("from")) {
    const span = Date.parse(params.get("to") || new Date().toISOString()) - Date.parse(params.get("from"));
    return span <= 3 * 3600e3 ? "minute" : span <= 8 * 86400e3 ? "hour" : "day";
  }
  return GRANULARITY[params.get("window") || "24h"] || "hour";
}

export function windowLength(params) {
  return WINDOW_MS[params.get("window") || "24h"];
}

let providerList = null;
let providerListAt = 0;

// Provider names seen in the last 30 days (kept for five minutes).
async function providers() {
  if (!providerList || Date.now() - providerListAt > 300e3) {
    const body = await get("/providers", { window: "30d" });
    providerList = body.providers.map((p) => p.provider).sort();
    providerListAt = Date.now();
  }
  return providerList;
}

// The control bar; `options` picks which controls the page has.
export async function controlBar(context, { provider = true, compare = false, extra = [] } = {}) {
  const { params, navigate } = context;
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
  const chosen = params.has("from") ? "custom" : params.get("window") || "24h";
  const windowSelect = h("select", { id: "ctl-window", onchange: (e) => change("window", e.target.value) },
    Object.entries(WINDOWS).map(([value, label]) => h("option", { value, selected: value === chosen }, label)),
    chosen === "custom" ? h("option", { value: "custom", selected: true, disabled: true }, "Custom range") : null,
    !(chosen in WINDOWS) && chosen !== "custom" ? h("option", { value: chosen, selected: true, disabled: true }, chosen) : null);
  const items = [h("div", {}, h("label", { for: "ctl-window" }, "Window"), windowSelect)];
  if (provider) {
    const names = await providers();
    const selected = params.get("provider") || "";
    const providerSelect = h("select", { id: "ctl-provider", onchange: (e) => change("provider", e.target.value) },
      h("option", { value: "" }, "All providers"),
      names.map((name) => h("option", { value: name, selected: name === selected }, name)),
      selected && !names.includes(selected) ? h("option", { value: selected, selected: true }, selected) : null);
    items.push(h("div", {}, h("label", { for: "ctl-provider" }, "Provider"), providerSelect));
  }
  if (compare) {
    const value = params.get("compare") || "previous";
    const compareSelect = h("select", { id: "ctl-compare", onchange: (e) => change("compare", e.target.value === "previous" ? "" : e.target.value) },
      h("option", { value: "previous", selected: value === "previous" }, "Previous period"),
      h("option", { value: "none", selected: value === "none" }, "No comparison"));
    items.push(h("div", {}, h("label", { for: "ctl-compare" }, "Compare with"), compareSelect));
  }
  return h("div", { class: "controls", role: "group", "aria-label": "View settings" }, items, extra);
}
