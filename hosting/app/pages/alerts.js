// Alerts: open ones now and the history of the window, with status, severity and rule filters.

import { get } from "../api.js";
import { controlBar, windowParams } from "../controls.js";
import { badge, h, num, replace, table, when } from "../ui.js";

const STATUSES = ["all", "open", "pending", "firing", "acknowledged", "suppressed", "resolved"];
const SEVERITIES = ["critical", "warning", "info"];

export function formatValue(metric, value) {
  if (value === null || value === undefined) return "–";
  if (/Rate$/.test(metric)) return `${(value * 100).toFixed(2)}%`;
  if (/Seconds$/.test(metric)) return `${value.toFixed(1)} s`;
  return num(value, Math.abs(value) < 10 ? 3 : 1);
}

const COMPARATORS = { lt: "<", lte: "≤", gt: ">", gte: "≥" };
export const comparator = (c) => COMPARATORS[c] || c;

export function alertRows(alerts, empty) {
  return table([
    { label: "Severity", value: (a) => badge(`sev-${a.severity}`, a.severity) },
    { label: "Alert", value: (a) => h("a", { href: `/alerts/${encodeURIComponent(a.alertId)}` }, `${a.ruleId} · ${a.scope}`) },
    { label: "Status", value: (a) => badge(`st-${a.status}`, a.status) },
    { label: "Value vs threshold", value: (a) => `${formatValue(a.metric, a.value)} ${comparator(a.comparator)} ${formatValue(a.metric, a.threshold)} over ${a.window}` },
    { label: "Opened", value: (a) => when(a.openedAt) },
  ], alerts, { empty });
}

export async function render(context) {
  const { main, params, navigate } = context;
  const select = (name, values, label) => {
    const chosen = params.get(name) || "";
    return h("div", {}, h("label", { for: `ctl-${name}` }, label),
      h("select", { id: `ctl-${name}`, onchange: (e) => {
        const next = new URLSearchParams(params);
        if (e.target.value) next.set(name, e.target.value); else next.delete(name);
        navigate(location.pathname, next);
      } }, h("option", { value: "" }, "Any"),
      values.map((v) => h("option", { value: v, selected: v === chosen }, v)),
      chosen && !values.includes(chosen) ? h("option", { value: chosen, selected: true }, chosen) : null));
  };
  const bar = await controlBar(context, {
    extra: [select("status", STATUSES, "Status"), select("severity", SEVERITIES, "Severity")],
  });
  const query = { ...windowParams(params) };
  for (const key of ["status", "severity", "rule"]) if (params.has(key)) query[key] = params.get(key);
  const body = await get("/alerts", query);
  const counts = Object.entries(body.counts.bySeverity).map(([k, v]) => `${v} ${k}`).join(", ") || "none";
  replace(main,
    h("h1", {}, "Alerts"),
    bar,
    h("h2", {}, `Open now (${body.active.length}: ${counts})`),
    alertRows(body.active, "No open alerts."),
    h("h2", {}, `Opened in the window (${body.historyTotal}${body.historyTruncated ? `, first ${body.history.length} shown` : ""})`),
    alertRows(body.history, "No alert opened in this window."));
}

export const title = () => "Alerts";
