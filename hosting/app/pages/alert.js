// @ts-check
// One alert: its rule's figure over time against the threshold, the history, the notifications
// and how they went, and for admins Acknowledge / Resolve / Suppress with a note.

import { get, post } from "../api.js";
import { comparator, formatValue } from "../panels/alerts.js";
import { TimeChart } from "../panels/charts.js";
import { table } from "../panels/table.js";
import { controlPanel } from "../panels/traffic.js";
import { badge, errorText, h, message, replace, when } from "../ui.js";

/** @import { AlertInstance } from "../contract.js" */

/**
 * @param {string} metric
 * @returns {import("../panels/charts.js").Unit}
 */
const UNITS = (metric) => (/Rate$/.test(metric) ? "ratio" : /Seconds$/.test(metric) ? "seconds" : "count");

/** @param {import("../pages.js").PageContext} context */
export async function render(context) {
  const { main, args, isAdmin } = context;
  const id = args.alertId;
  const notice = h("div", { "aria-live": "polite", tabindex: -1 });
  let detail = await get("/alerts/{alertId}", { alertId: id });
  const chart = new TimeChart({ title: "", unit: UNITS(detail.alert.metric), height: 240 });
  const content = h("div", {});
  replace(main, h("p", {}, h("a", { href: "/alerts" }, "← All alerts")), content);

  function draw() {
    const { alert, figure, deliveries, rule, providerControl } = detail;
    const provider = alert.scope.startsWith("provider:") ? alert.scope.slice("provider:".length) : null;
    // Every alert on a provider offers its traffic control (the rule's action or an admin's).
    const traffic = provider
      ? controlPanel(provider, providerControl, isAdmin, async (control) => {
        detail = await get("/alerts/{alertId}", { alertId: id });
        draw();
        replace(notice, message("notice", `${provider}: ${control.state === "closed" ? "released" : "paused"}.`));
        notice.focus();
      })
      : null;
    chart.title.textContent =
      `${figure.metric} in ${figure.scope} over ${figure.window}, each scheduled run`;
    const points = figure.points;
    const actions = isAdmin ? actionPanel(alert) : null;
    replace(content,
      h("h1", {}, `${alert.ruleId} · ${alert.scope}`),
      h("p", {}, badge(`sev-${alert.severity}`, alert.severity), " ", badge(`st-${alert.status}`, alert.status),
        rule?.description ? h("span", { class: "muted" }, ` ${rule.description}`) : null),
      notice,
      h("dl", { class: "kv panel" },
        h("dt", {}, "Last value"), h("dd", { "data-figure": "alert.value" },
          `${formatValue(alert.metric, alert.value)} ${comparator(alert.comparator)} threshold ${formatValue(alert.metric, alert.threshold)} (${alert.samples} samples, ${alert.window} window)`),
        h("dt", {}, "Opened"), h("dd", {}, when(alert.openedAt)),
        h("dt", {}, "Fired"), h("dd", {}, when(alert.firedAt)),
        h("dt", {}, "Acknowledged"), h("dd", {}, alert.acknowledgedAt ? `${when(alert.acknowledgedAt)} by ${alert.acknowledgedBy}` : "–"),
        alert.suppressedUntil ? [h("dt", {}, "Suppressed until"), h("dd", {}, when(alert.suppressedUntil))] : null,
        h("dt", {}, "Resolved"), h("dd", {}, alert.resolvedAt ? `${when(alert.resolvedAt)} by ${alert.resolvedBy}` : "–"),
        h("dt", {}, "Alert id"), h("dd", {}, h("code", {}, alert.alertId))),
      actions,
      traffic,
      chart.el,
      h("div", { class: "grid2" },
        h("section", {}, h("h2", {}, "History"),
          h("ol", { class: "timeline" }, (alert.history || []).map((entry) =>
            h("li", {}, h("strong", {}, entry.action), ` by ${entry.by} at ${when(entry.at)}`,
              entry.detail ? h("div", { class: "muted" }, entry.detail) : null)))),
        h("section", {}, h("h2", {}, "Notifications"),
          table([
            { label: "#", value: (d) => d.seq, num: true },
            { label: "Channel", value: (d) => d.channel },
            { label: "Event", value: (d) => d.event },
            { label: "Status", value: (d) => badge(`st-${d.status}`, d.status) },
            { label: "Attempts", value: (d) => d.attempts, num: true },
            { label: "Sent", value: (d) => when(d.sentAt) },
            { label: "Last error", value: (d) => d.lastError || "" },
          ], deliveries, { empty: "No notification was owed." }))));
    chart.update({
      x: points.map((p) => p.at),
      lines: [{ label: figure.metric, values: points.map((p) => p.value) }],
      threshold: figure.threshold,
      summary: points.length
        ? `${points.length} runs from ${when(figure.from)} to ${when(figure.to)}; the dashed line is the threshold`
        : figure.unavailable ? `Not charted: ${figure.unavailable}.` : "No run measured this figure in the alert's time range yet.",
    });
  }

  /** @param {AlertInstance} alert */
  function actionPanel(alert) {
    const open = alert.open;
    const note = h("input", { id: "action-note", type: "text", maxlength: 2000, placeholder: "what you found or did" });
    const minutes = h("input", { id: "action-minutes", type: "number", min: 1, max: 10080, value: 60, style: "width:7em" });
    /**
     * @param {"acknowledge" | "resolve" | "suppress"} action
     * @param {() => Record<string, unknown>} body
     */
    const act = (action, body) => async (/** @type {Event} */ event) => {
      const button = /** @type {HTMLButtonElement} */ (event.currentTarget);
      button.disabled = true;
      try {
        await post(`/alerts/{alertId}/${action}`, { alertId: id }, body());
        detail = await get("/alerts/{alertId}", { alertId: id });
        draw();
        replace(notice, message("notice", `Done: ${action}.`));
        notice.focus(); // the pressed button was rebuilt

      } catch (error) {
        replace(notice, message("error", `Could not ${action} this alert.`, errorText(error)));
        button.disabled = false;
      }
    };
    const withNote = () => (note.value ? { note: note.value } : {});
    return h("section", { class: "panel", "aria-label": "Actions" },
      h("h2", { style: "margin-top:0" }, "Actions"),
      h("div", { class: "actions" },
        h("div", { class: "field" }, h("label", { for: "action-note" }, "Note"), note),
        h("button", { type: "button", class: "primary", disabled: !open || alert.status === "acknowledged",
          onclick: act("acknowledge", withNote) }, "Acknowledge"),
        h("button", { type: "button", disabled: !open, onclick: act("resolve", withNote) }, "Resolve"),
        h("div", { class: "field" }, h("label", { for: "action-minutes" }, "Minutes"), minutes),
        h("button", { type: "button", disabled: !open,
          onclick: act("suppress", () => ({ ...withNote(), minutes: Number(minutes.value) })) }, "Suppress")));
  }

  draw();
  // No live refresh here: it would clear a note being typed.
}
