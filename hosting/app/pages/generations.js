// @ts-check
// Generations: the generations behind a figure (GET /generations), newest first, a page at a
// time. Its state is the URL: window (or from/to), provider, status, errorCode and, past the
// first page, the cursor, so every chart bucket and provider row links straight to its list.

import { get } from "../api.js";
import { GENERATION_STATUSES } from "../contract.js";
import { controlBar, windowParams } from "../panels/controls.js";
import { generationsHref } from "../panels/drill.js";
import { table } from "../panels/table.js";
import { h, num, replace, secs, usd, when } from "../ui.js";

/** @import { GetResponses } from "../contract.js" */
/** @typedef {GetResponses["/generations"]["generations"][number]} Row */

const FILTERS = ["status", "errorCode"];

/** @param {import("../pages.js").PageContext} context */
export async function render(context) {
  const { main, params, navigate } = context;
  /**
   * @param {string} key
   * @param {string} value
   */
  const change = (key, value) => {
    const next = new URLSearchParams(params);
    next.delete("cursor"); // other filters: another list, from its first page
    if (value) next.set(key, value);
    else next.delete(key);
    navigate(location.pathname, next);
  };
  const status = params.get("status") || "";
  const statusSelect = h("select", { id: "ctl-status", onchange: (/** @type {Event} */ e) => change("status", /** @type {HTMLSelectElement} */ (e.target).value) },
    h("option", { value: "" }, "Any status"),
    GENERATION_STATUSES.map((s) => h("option", { value: s, selected: s === status }, s)));
  const codeInput = h("input", { id: "ctl-error-code", type: "text", value: params.get("errorCode") || "", size: 16,
    placeholder: "any", onchange: (/** @type {Event} */ e) => change("errorCode", /** @type {HTMLInputElement} */ (e.target).value.trim()) });
  const bar = await controlBar(context, { extra: [
    h("div", {}, h("label", { for: "ctl-status" }, "Status"), statusSelect),
    h("div", {}, h("label", { for: "ctl-error-code" }, "Error code"), codeInput),
  ] });
  /** @type {Record<string, string>} */
  const query = windowParams(params);
  for (const key of [...FILTERS, "cursor"]) {
    const value = params.get(key);
    if (value !== null) query[key] = value;
  }
  const page = await get("/generations", query);
  const rows = page.generations;
  /** @type {Array<import("../panels/table.js").Column<Row>>} */
  const columns = [
    { label: "Created (UTC)", value: (g) => when(g.createdAt) },
    { label: "Generation", value: (g) => h("code", {}, g.generationId) },
    { label: "Provider", value: (g) => g.provider },
    { label: "Status", value: (g) => g.status },
    { label: "Error", value: (g) => g.errorCode || "" },
    { label: "Generation time", value: (g) => secs(g.generationSeconds), num: true },
    { label: "Queue", value: (g) => secs(g.queueSeconds), num: true },
    { label: "Render", value: (g) => secs(g.renderSeconds), num: true },
    { label: "Cost", value: (g) => usd(g.costUsd, 4), num: true },
    { label: "User", value: (g) => h("code", { title: "as the exports give it" }, short(g.userId)) },
  ];
  const first = new URLSearchParams(params);
  first.delete("cursor");
  const next = new URLSearchParams(params);
  if (page.next) next.set("cursor", page.next);
  const filters = [params.get("provider") && `provider ${params.get("provider")}`,
    status && `status ${status}`, params.get("errorCode") && `error ${params.get("errorCode")}`].filter(Boolean);
  replace(main,
    h("h1", {}, "Generations"),
    bar,
    h("p", { class: "muted" }, `${when(page.window.from)} – ${when(page.window.to)} · `,
      filters.length ? filters.join(", ") : "all providers and statuses", ` · ${page.order}`),
    h("p", { "data-figure": "generations.shown" }, params.has("cursor") ? "Later page: " : "First page: ",
      `${num(rows.length)} generation${rows.length === 1 ? "" : "s"}`),
    table(columns, rows, { label: "Generations", empty: "No generation matches in this window." }),
    h("nav", { class: "pager", "aria-label": "Pages" },
      params.has("cursor") ? h("a", { href: `${location.pathname}?${first}` }, "First page") : null,
      page.next ? h("a", { href: `${location.pathname}?${next}`, rel: "next" }, "Next page") : h("span", { class: "muted" }, "Last page"),
      status === "failed" ? null : h("a", { href: generationsHref({ ...windowParams(params), status: "failed" }) }, "Failed only")));
}

/**
 * A pseudonym cut to its first 12 characters (the title keeps the whole id).
 * @param {string | null} id
 */
function short(id) {
  if (!id) return "–";
  return id.length > 20 ? `${id.slice(0, 12)}…` : id;
}
