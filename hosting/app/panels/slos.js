// @ts-check
// Error budgets: every service level objective (GET /slos) over its own rolling window, overall
// and per provider: how much of the budget is left, how fast it burns now, and when it runs out
// at that pace. Shown on the overview; the window controls above do not change it.

import { get } from "../api.js";
import { badge, h, num, pct, replace } from "../ui.js";
import { table } from "./table.js";

/** @import { BudgetStatus, GetResponses } from "../contract.js" */
/** @typedef {GetResponses["/slos"]["objectives"][number]} ObjectiveStatus */
/** @typedef {ObjectiveStatus["budgets"][number] & { objective: ObjectiveStatus }} Row */
/** @typedef {number | null | undefined} Figure */

/** @type {Record<BudgetStatus, string>} */
const STATUS = { ok: "on track", at_risk: "at risk", exhausted: "exhausted", no_data: "no data" };
/** @type {Record<BudgetStatus, string>} */
const KIND = { ok: "st-resolved", at_risk: "sev-warning", exhausted: "sev-critical", no_data: "sev-info" };

/** @param {Figure} value */
export function burn(value) {
  return value === null || value === undefined ? "–" : `${num(value, value < 10 ? 1 : 0)}×`;
}

// The budget left as a bar (0 to 100%) and a figure; an overspent budget shows an empty bar and
// how many times over it was spent (bad events / allowed = 1 - remaining).
/** @param {Figure} left */
export function budgetText(left) {
  if (left === null || left === undefined) return "–";
  return left >= 0 ? pct(left, 0) : `0% · ${num(1 - left, 1)}× spent`;
}

/** @param {Figure} left */
export function meter(left) {
  if (left === null || left === undefined) return "–";
  const share = Math.max(0, Math.min(1, left));
  const kind = left <= 0 ? "bad" : left < 0.25 ? "warn" : "good";
  return h("span", { class: "budget" },
    h("span", { class: `meter ${kind}`, role: "img", "aria-label": `${pct(share, 0)} of the budget left` },
      h("span", { style: `width:${(share * 100).toFixed(1)}%` })),
    " ", budgetText(left));
}

/**
 * @param {ObjectiveStatus[]} objectives
 * @param {string | null} provider
 */
function rows(objectives, provider) {
  /** @type {Row[]} */
  const out = [];
  for (const o of objectives) {
    for (const b of o.budgets) {
      if (provider && b.scope !== "overall" && b.scope !== `provider:${provider}`) continue;
      out.push({ objective: o, ...b });
    }
  }
  return out;
}

/** @type {Array<import("./table.js").Column<Row>>} */
const COLUMNS = [
  { label: "Objective", value: (r) => h("span", { title: r.objective.description }, r.objective.sloId) },
  { label: "Scope", value: (r) => r.scope },
  { label: "Good", num: true, value: (r) => `${pct(r.sli, 2)} of ${num(r.valid)}`, sort: (r) => r.sli },
  { label: "Target", num: true, value: (r) => pct(r.objective.target, r.objective.target >= 0.99 ? 1 : 0) },
  { label: "Budget left", value: (r) => meter(r.budgetRemaining), sort: (r) => r.budgetRemaining },
  { label: "Burn 1 h", num: true, value: (r) => burn(r.burnRates["1h"]), sort: (r) => r.burnRates["1h"] },
  { label: "Burn 6 h", num: true, value: (r) => burn(r.burnRates["6h"]), sort: (r) => r.burnRates["6h"] },
  { label: "Runs out", value: (r) => r.hoursToExhaustion === null ? (r.budgetRemaining !== null && r.budgetRemaining <= 0 ? "spent" : "–") : `in ${num(r.hoursToExhaustion, 0)} h`, sort: (r) => r.hoursToExhaustion },
  { label: "Status", value: (r) => badge(KIND[r.status], STATUS[r.status]), sort: (r) => r.budgetRemaining },
];

// The panel: a section whose table is refreshed in place by `refresh()`.
/** @param {string | null} provider */
export function sloPanel(provider) {
  const body = h("div", {}, h("p", { class: "muted" }, "Loading objectives…"));
  const state = { column: 4, descending: false };
  /** @type {GetResponses["/slos"] | null} */
  let last = null;
  let loadedAt = 0;
  function draw() {
    if (!last) return;
    const objectives = last.objectives.filter((o) => o.enabled);
    const days = [...new Set(objectives.map((o) => o.windowDays))].join(" or ");
    replace(body,
      h("p", { class: "muted" }, objectives.length
        ? `Rolling ${days} days to now, whatever the window above. Burn 1× spends the budget exactly over the window; 14.4× for an hour pages.`
        : "No objective is enabled."),
      table(COLUMNS, rows(objectives, provider), { label: "Error budgets", state, onSort: draw, empty: "No generations in the objectives' windows." }));
  }
  return {
    el: h("section", { "aria-labelledby": "slo-heading" }, h("h2", { id: "slo-heading" }, "Error budgets"), body),
    // A 28-day budget moves slowly: read it at most once a minute, however often the page refreshes.
    async refresh() {
      if (last && Date.now() - loadedAt < 60_000) return;
      last = await get("/slos");
      loadedAt = Date.now();
      draw();
    },
  };
}
