// @ts-check
// Alerts: open ones now and the history of the window, with status, severity and rule filters.

import { get } from "../api.js";
import { ALERT_FILTERS, SEVERITIES } from "../contract.js";
import { alertRows } from "../panels/alerts.js";
import { controlBar, windowParams } from "../panels/controls.js";
import { h, replace } from "../ui.js";

/** @param {import("../pages.js").PageContext} context */
export async function render(context) {
  const { main, params, navigate } = context;
  /**
   * @param {string} name
   * @param {ReadonlyArray<string>} values
   * @param {string} label
   */
  const select = (name, values, label) => {
    const chosen = params.get(name) || "";
    return h("div", {}, h("label", { for: `ctl-${name}` }, label),
      h("select", { id: `ctl-${name}`, onchange: (/** @type {Event} */ e) => {
        const next = new URLSearchParams(params);
        const value = /** @type {HTMLSelectElement} */ (e.target).value;
        if (value) next.set(name, value); else next.delete(name);
        navigate(location.pathname, next);
      } }, h("option", { value: "" }, "Any"),
      values.map((v) => h("option", { value: v, selected: v === chosen }, v)),
      chosen && !values.includes(chosen) ? h("option", { value: chosen, selected: true }, chosen) : null));
  };
  const bar = await controlBar(context, {
    extra: [select("status", ALERT_FILTERS, "Status"), select("severity", SEVERITIES, "Severity")],
  });
  /** @type {Record<string, string>} */
  const query = { ...windowParams(params) };
  for (const key of ["status", "severity", "rule"]) {
    const value = params.get(key);
    if (value !== null) query[key] = value;
  }
  const body = await get("/alerts", query);
  const counts = Object.entries(body.counts.bySeverity ?? {}).map(([k, v]) => `${v} ${k}`).join(", ") || "none";
  replace(main,
    h("h1", {}, "Alerts"),
    bar,
    h("h2", {}, `Open now (${body.active.length}: ${counts})`),
    alertRows(body.active, "No open alerts."),
    h("h2", {}, `Opened in the window (${body.historyTotal}${body.historyTruncated ? `, first ${body.history.length} shown` : ""})`),
    alertRows(body.history, "No alert opened in this window."));
}
