// @ts-check
// Capacity: each provider's work in flight against its limits, its month's spend against its
// budget, its 14-day peak-hour demand forecast against 80% of capacity, and for admins the form
// that sets the limits (docs/capacity.md).

import { get } from "../api.js";
import { openAlertsOn } from "../panels/alerts.js";
import { capacityPanel } from "../panels/capacity.js";
import { controlBar, windowParams } from "../panels/controls.js";
import { table } from "../panels/table.js";
import { h, message, num, pct, replace, when } from "../ui.js";

/** @import { CapacityRow } from "../panels/capacity.js" */

/** @param {import("../pages.js").PageContext} context */
export async function render(context) {
  const { main, params, isAdmin } = context;
  const bar = await controlBar(context, { provider: false });
  const window = windowParams(params, { provider: false });
  /** @param {string} [notice] what the last action did, shown above the table */
  const draw = async (notice) => {
    const [body, alerts] = await Promise.all([
      get("/capacity", window),
      openAlertsOn("limits", "Open alerts on the providers' limits", "No provider is above a limit's rule."),
    ]);
    /**
     * @param {CapacityRow} r
     * @param {string} name
     * @param {string} text
     */
    const cell = (r, name, text) => h("span", { "data-capacity-figure": `${r.provider}.${name}` }, text);
    /** @type {Array<import("../panels/table.js").Column<CapacityRow>>} */
    const columns = [
      { label: "Provider", value: (r) => r.provider, sort: (r) => r.provider },
      { label: "In flight", num: true, value: (r) => cell(r, "inFlight", num(r.inFlight)), sort: (r) => r.inFlight },
      { label: "Max concurrent", num: true, value: (r) => cell(r, "maxConcurrent", num(r.maxConcurrent)), sort: (r) => r.maxConcurrent },
      { label: "Utilisation", num: true, value: (r) => cell(r, "utilization", pct(r.utilization, 1)), sort: (r) => r.utilization },
      { label: "Busiest minute", num: true, value: (r) => cell(r, "peakStartsPerMinute", num(r.peakStartsPerMinute)), sort: (r) => r.peakStartsPerMinute },
      { label: "Max per minute", num: true, value: (r) => cell(r, "maxPerMinute", num(r.maxPerMinute)), sort: (r) => r.maxPerMinute },
      { label: "Rate utilisation", num: true, value: (r) => cell(r, "rateUtilization", pct(r.rateUtilization, 1)), sort: (r) => r.rateUtilization },
      { label: "Quota errors", num: true, value: (r) => cell(r, "quotaErrorShare", pct(r.quotaErrorShare, 1)), sort: (r) => r.quotaErrorShare },
      { label: "Forecast peak / h", num: true, value: (r) => cell(r, "peakPerHour", num(Math.max(0, ...r.forecast.days.map((d) => d.peakPerHour)), 1)), sort: (r) => Math.max(0, ...r.forecast.days.map((d) => d.peakPerHour)) },
    ];
    const sort = { column: 3, descending: true };
    const holder = h("div", {});
    /** @returns {HTMLElement} */
    const drawTable = () => replace(holder, table(columns, body.providers, {
      state: sort, onSort: drawTable, caption: "Select a column heading to sort.", empty: "No provider is tracked or configured.",
    }));
    drawTable();
    replace(main,
      h("h1", {}, "Capacity"),
      bar,
      notice ? message("notice", notice) : null,
      alerts,
      h("p", { class: "muted" }, `In flight now (${when(body.asOf)}); starts and quota errors over ${when(body.window.from)} – ${when(body.window.to)}; spend since ${when(body.monthStart)}.`),
      holder,
      h("h2", {}, "Peak-hour demand forecast, 14 days"),
      // One provider a row: its figures, a 14-day chart and the form need the width.
      h("div", { style: "display:grid;gap:14px" }, body.providers.map((r) => capacityPanel(r, isAdmin, draw))));
  };
  await draw();
}
