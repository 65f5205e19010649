// @ts-check
// Health: the monitor's own verdict from GET /health in full: ok or degraded, each check with
// its state and the reason it fails, then the figures behind them (the last tick, the fold's
// lag, rejections, the notification outbox, the queue, quarantined journal entries, refused
// calls, the last BigQuery export and values counted as `other`).

import { health } from "../api.js";
import { table } from "../panels/table.js";
import { badge, errorText, h, message, num, pct, replace, secs, when } from "../ui.js";

/** @import { Health } from "../contract.js" */

/** What each check watches, in the words of its threshold. */
const CHECKS = {
  tick: "Scheduled tick ran in the last 15 minutes",
  rollups: "Rollups at most 10 minutes behind",
  rejections: "At most 5% of the last hour's documents rejected",
  notifications: "No alert notification abandoned in 24 hours",
  quarantine: "No rollup journal entry quarantined in 24 hours",
  export: "The last BigQuery export did not fail",
};

/**
 * A figure the browser tests find by its name.
 * @param {string} name
 * @param {import("../ui.js").Child} value
 */
const fig = (name, value) => h("span", { "data-health-figure": name }, value);

/**
 * A term and its figure in a definition list.
 * @param {string} term
 * @param {string} name
 * @param {import("../ui.js").Child} value
 */
const item = (term, name, value) => [h("dt", {}, term), h("dd", {}, fig(name, value))];

/** @param {Health} body */
function figures(body) {
  const rejected = body.rejectedLastHour ?? null;
  const seen = (body.changesLastHour ?? 0) + (rejected ?? 0);
  return h("dl", { class: "kv figures" },
    item("Last tick", "lastTick", when(body.lastTick)),
    item("Rollup lag", "pipelineLagSeconds", secs(body.pipelineLagSeconds)),
    item("Generation changes, last hour", "changesLastHour", num(body.changesLastHour)),
    item("Rejected documents, last hour", "rejectedLastHour",
      `${num(rejected)}${seen ? ` (${pct((rejected ?? 0) / seen, 1)})` : ""}`),
    item("Notifications waiting", "outbox.backlog", num(body.outbox?.backlog)),
    item("Notifications abandoned, 24 h", "outbox.abandoned24h", num(body.outbox?.abandoned24h)),
    item("Generations in progress", "queue.inProgress", num(body.queue?.inProgress)),
    item("Stuck generations", "queue.stuck", num(body.queue?.stuck)),
    item("Journal entries held in quarantine", "foldQuarantine.held", num(body.foldQuarantine?.held)),
    item("Quarantined, 24 h", "foldQuarantine.last24h", num(body.foldQuarantine?.last24h)),
    item("Calls refused for want of a role, last hour", "deniedLastHour", num(body.deniedLastHour)));
}

/** @param {Health["lastExport"]} last */
function exportPanel(last) {
  if (!last) return h("p", { class: "muted", "data-health-figure": "lastExport" }, "No BigQuery export has run.");
  const rows = Object.entries(last.rows ?? {}).map(([name, count]) => `${name} ${num(count)}`).join(", ");
  return h("dl", { class: "kv" },
    item("Day", "lastExport.day", last.day ?? "–"),
    item("Status", "lastExport.status", last.status ?? "–"),
    item("Finished", "lastExport.finishedAt", when(last.finishedAt)),
    item("Rows", "lastExport.rows", rows || "none"),
    last.error ? item("Error", "lastExport.error", last.error) : null);
}

/** @param {Health} body */
function draw(body) {
  const ok = body.status === "ok";
  const checks = body.checks ?? [];
  const others = Object.entries(body.countedAsOther24h ?? {});
  return [
    h("p", {}, "The monitor is ", fig("status", badge(ok ? "st-resolved" : "sev-critical", ok ? "ok" : "degraded")),
      ok ? ": every check passes." : `: ${body.reasons?.length ?? 0} of its checks ${body.reasons?.length === 1 ? "fails" : "fail"}.`),
    h("p", { class: "muted" }, `What GET /health answered at ${new Date().toISOString().slice(11, 19)} UTC (an uptime check reads the same verdict without the detail).`),
    h("h2", {}, "Checks"),
    table([
      { label: "Check", value: (c) => CHECKS[c.check] ?? c.check },
      { label: "State", value: (c) => h("span", { "data-health-check": c.check }, badge(c.ok ? "st-resolved" : "sev-critical", c.ok ? "passing" : "failing")) },
      { label: "Reason", value: (c) => c.reason ?? "–" },
    ], checks, { label: "Health checks", empty: "The API gave no per-check detail." }),
    h("h2", {}, "Figures"),
    figures(body),
    h("h2", {}, "Last BigQuery export"),
    exportPanel(body.lastExport),
    h("h2", {}, "Counted as other, 24 h"),
    h("p", { class: "muted" }, "Values of the bounded fields (provider, error code, feature, event type) counted as “other” because they are not tracked."),
    others.length
      ? h("dl", { class: "kv figures" }, others.map(([field, count]) => item(field, `countedAsOther24h.${field}`, num(count))))
      : h("p", { class: "muted" }, "None."),
    h("p", {}, h("a", { href: "/system", "data-nav": true }, "The queue and the functions' runtime: System")),
  ];
}

// Read again on demand, not on a timer: redrawing under a keyboard user would lose the focus.
/** @param {import("../pages.js").PageContext} context */
export async function render({ main }) {
  const content = h("div", {}, draw(await health()));
  const again = h("button", { type: "button", onclick: async () => {
    again.disabled = true;
    try {
      replace(content, draw(await health()));
    } catch (error) {
      replace(content, message("error", "The health check did not answer.", errorText(error)));
    } finally {
      again.disabled = false;
    }
  } }, "Check again");
  replace(main, h("h1", {}, "Health"), h("div", { class: "actions" }, again), content);
}
