// @ts-check
// Alerts as the pages list them: a table of alerts, and an alert's figure against its threshold.

import { get } from "../api.js";
import { badge, h, num, when } from "../ui.js";
import { table } from "./table.js";

/** @import { AlertInstance } from "../contract.js" */

/**
 * A rule's figure as its metric is written: a rate in percent, seconds, or a plain number.
 * @param {string} metric
 * @param {number | null | undefined} value
 */
export function formatValue(metric, value) {
  if (value === null || value === undefined) return "–";
  if (/Rate$/.test(metric)) return `${(value * 100).toFixed(2)}%`;
  if (/Seconds$/.test(metric)) return `${value.toFixed(1)} s`;
  return num(value, Math.abs(value) < 10 ? 3 : 1);
}

/** @type {Record<string, string>} */
const COMPARATORS = { lt: "<", lte: "≤", gt: ">", gte: "≥" };

/** @param {string} c */
export const comparator = (c) => COMPARATORS[c] || c;

/**
 * @param {ReadonlyArray<AlertInstance>} alerts
 * @param {string} empty
 */
export function alertRows(alerts, empty) {
  return table([
    { label: "Severity", value: (a) => badge(`sev-${a.severity}`, a.severity) },
    { label: "Alert", value: (a) => h("a", { href: `/alerts/${encodeURIComponent(a.alertId)}` }, `${a.ruleId} · ${a.scope}`) },
    { label: "Status", value: (a) => badge(`st-${a.status}`, a.status) },
    { label: "Value vs threshold", value: (a) => `${formatValue(a.metric, a.value)} ${comparator(a.comparator)} ${formatValue(a.metric, a.threshold)} over ${a.window}` },
    { label: "Opened", value: (a) => when(a.openedAt) },
  ], alerts, { empty });
}

/**
 * The alerts open now on the metrics a page watches, whatever the page's window: a page about
 * the queue or the providers' limits says first whether a rule on its figures is firing.
 * @param {"system" | "limits"} about the API's group of metrics
 * @param {string} title
 * @param {string} empty
 */
export async function openAlertsOn(about, title, empty) {
  const body = await get("/alerts", { status: "open", about, limit: "1" });
  const open = body.active;
  return h("section", { "data-open-alerts": String(open.length) }, h("h2", {}, title), alertRows(open, empty));
}
