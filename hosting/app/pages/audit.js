// @ts-check
// Audit log (admins): who did what, when, to what and how it went, newest first, filtered by
// actor, action and time and paged by the API's cursor. The filters and the page are the URL's
// query, so a view can be linked and Back returns to the previous page.

import { get } from "../api.js";
import { table } from "../panels/table.js";
import { badge, h, replace, when } from "../ui.js";

const PAGE_SIZES = ["25", "50", "100", "200"];
const ACTIONS = ["acknowledge", "resolve", "suppress", "rule.create", "rule.update", "rule.delete", "slo.update",
  "capacity.update", "provider.pause", "provider.release", "export", "user.erase"];

/**
 * A datetime-local value (the browser's zone) as RFC 3339, or "" when empty.
 * @param {string} value
 */
function rfc3339(value) {
  return value ? new Date(value).toISOString() : "";
}

/**
 * RFC 3339 as a datetime-local value in the browser's zone.
 * @param {string | null} text
 */
function local(text) {
  if (!text) return "";
  const at = new Date(text);
  if (Number.isNaN(at.getTime())) return "";
  return new Date(at.getTime() - at.getTimezoneOffset() * 60000).toISOString().slice(0, 16);
}

/** @param {Record<string, unknown>} details */
function detailText(details) {
  const entries = Object.entries(details || {});
  if (!entries.length) return "";
  return entries.map(([k, v]) => `${k}: ${typeof v === "object" ? JSON.stringify(v) : String(v)}`).join("; ");
}

/** @param {import("../pages.js").PageContext} context */
export async function render(context) {
  const { main, params, navigate } = context;
  /** @type {Record<string, string>} */
  const query = {};
  for (const key of ["actor", "action", "from", "to", "limit", "cursor"]) {
    const value = params.get(key);
    if (value) query[key] = value;
  }
  const body = await get("/audit-log", query);
  const actor = h("input", { id: "audit-actor", type: "text", value: params.get("actor") || "", placeholder: "any uid", autocomplete: "off" });
  const action = h("input", { id: "audit-action", type: "text", value: params.get("action") || "", placeholder: "any", list: "audit-actions", autocomplete: "off" });
  const from = h("input", { id: "audit-from", type: "datetime-local", value: local(params.get("from")) });
  const to = h("input", { id: "audit-to", type: "datetime-local", value: local(params.get("to")) });
  const limit = params.get("limit") || "50";
  // A size a link chose outside the usual ones is shown as chosen, not as the first option.
  const sizes = PAGE_SIZES.includes(limit) ? PAGE_SIZES : [limit, ...PAGE_SIZES];
  const size = h("select", { id: "audit-limit" }, sizes.map((n) => h("option", { value: n, selected: n === limit }, n)));
  const filters = h("form", { class: "controls", "aria-label": "Audit filters", onsubmit: (/** @type {SubmitEvent} */ event) => {
    event.preventDefault();
    const next = new URLSearchParams();
    const chosen = { actor: actor.value.trim(), action: action.value.trim(), from: rfc3339(from.value), to: rfc3339(to.value), limit: size.value };
    for (const [key, value] of Object.entries(chosen)) if (value && !(key === "limit" && value === "50")) next.set(key, value);
    navigate(location.pathname, next); // a new filter starts at the first page
  } },
  h("div", {}, h("label", { for: "audit-actor" }, "Actor"), actor),
  h("div", {}, h("label", { for: "audit-action" }, "Action"), action,
    h("datalist", { id: "audit-actions" }, ACTIONS.map((a) => h("option", { value: a })))),
  h("div", {}, h("label", { for: "audit-from" }, "From"), from),
  h("div", {}, h("label", { for: "audit-to" }, "To"), to),
  h("div", {}, h("label", { for: "audit-limit" }, "Per page"), size),
  h("div", {}, h("button", { class: "primary", type: "submit" }, "Apply")));
  const first = !params.get("cursor");
  const pager = h("nav", { class: "actions", "aria-label": "Audit pages" },
    first ? null : h("button", { type: "button", onclick: () => history.back() }, "Previous page"),
    first ? null : h("button", { type: "button", onclick: () => {
      const next = new URLSearchParams(params);
      next.delete("cursor");
      navigate(location.pathname, next);
    } }, "Newest"),
    body.next ? h("button", { type: "button", class: "primary", onclick: () => {
      const next = new URLSearchParams(params);
      next.set("cursor", String(body.next));
      navigate(location.pathname, next);
    } }, "Next page") : null);
  replace(main,
    h("h1", {}, "Audit log"),
    h("p", { class: "muted" }, "Every audited action: alert actions, rule, objective and capacity changes, provider controls, exports and erasures."),
    filters,
    table([
      { label: "When", value: (e) => when(e.at) },
      { label: "Actor", value: (e) => e.actor },
      { label: "Role", value: (e) => e.role ?? "" },
      { label: "Action", value: (e) => e.action },
      { label: "Target", value: (e) => e.target },
      { label: "Outcome", value: (e) => badge(e.outcome === "ok" ? "st-resolved" : "sev-critical", e.outcome) },
      { label: "Details", value: (e) => h("span", { class: "muted" }, detailText(e.details)) },
    ], body.entries, { label: "Audit entries", empty: "No entry matches these filters." }),
    h("p", { class: "muted", "data-figure": "audit.count" },
      `${body.entries.length} ${body.entries.length === 1 ? "entry" : "entries"} on this page${body.next ? "; more on the next" : first ? "" : "; the last page"}.`),
    pager);
}
