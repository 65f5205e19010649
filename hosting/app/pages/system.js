// @ts-check
// System: the generation queue now and over the window (queued, processing, the oldest queued
// job, wait p50/p95 of the jobs that started, net growth), per provider, and the functions'
// own runtime (executions, errors, p95 execution time, active instances, Firestore operations
// per minute), all from GET /system.

import { get } from "../api.js";
import { openAlertsOn } from "../panels/alerts.js";
import { controlBar, windowParams } from "../panels/controls.js";
import { table } from "../panels/table.js";
import { tile } from "../panels/tiles.js";
import { h, message, num, pct, replace, secs, when } from "../ui.js";

/** @import { GetResponses } from "../contract.js" */
/** @typedef {GetResponses["/system"]} System */
/** @typedef {System["providers"][number]} ProviderRow */
/** @typedef {System["functions"][number]} FunctionRow */

const SOURCES = { cloud_monitoring: "Cloud Monitoring", local: "the local functions host" };

/**
 * A table cell the browser tests find by its figure.
 * @param {string} figure
 * @param {import("../ui.js").Child} value
 */
const cell = (figure, value) => h("span", { "data-system-figure": figure }, value);

/** @type {Array<import("../panels/table.js").Column<ProviderRow>>} */
const QUEUE_COLUMNS = [
  { label: "Provider", value: (p) => p.provider, sort: (p) => p.provider },
  { label: "Queued", value: (p) => cell(`${p.provider}.queued`, num(p.queued)), num: true, sort: (p) => p.queued },
  { label: "Processing", value: (p) => cell(`${p.provider}.processing`, num(p.processing)), num: true, sort: (p) => p.processing },
  { label: "Oldest queued", value: (p) => cell(`${p.provider}.oldestQueuedSeconds`, secs(p.oldestQueuedSeconds)), num: true, sort: (p) => p.oldestQueuedSeconds },
  { label: "Wait p50", value: (p) => cell(`${p.provider}.waitP50Seconds`, secs(p.waitP50Seconds)), num: true, sort: (p) => p.waitP50Seconds },
  { label: "Wait p95", value: (p) => cell(`${p.provider}.waitP95Seconds`, secs(p.waitP95Seconds)), num: true, sort: (p) => p.waitP95Seconds },
  { label: "Started", value: (p) => num(p.waitSamples), num: true, sort: (p) => p.waitSamples },
  { label: "Growth / min", value: (p) => cell(`${p.provider}.netGrowthPerMinute`, num(p.netGrowthPerMinute, 2)), num: true, sort: (p) => p.netGrowthPerMinute },
];

/** @type {Array<import("../panels/table.js").Column<FunctionRow>>} */
const FUNCTION_COLUMNS = [
  { label: "Function", value: (f) => f.function, sort: (f) => f.function },
  { label: "Executions", value: (f) => cell(`${f.function}.executions`, num(f.executions)), num: true, sort: (f) => f.executions },
  { label: "Errors", value: (f) => cell(`${f.function}.errors`, num(f.errors)), num: true, sort: (f) => f.errors },
  { label: "Error rate", value: (f) => cell(`${f.function}.errorRate`, pct(f.errorRate, 1)), num: true, sort: (f) => f.errorRate },
  { label: "p95 execution", value: (f) => cell(`${f.function}.p95ExecutionMs`, f.p95ExecutionMs === null ? num(null) : `${num(f.p95ExecutionMs, 1)} ms`), num: true, sort: (f) => f.p95ExecutionMs },
  { label: "Active instances (peak)", value: (f) => cell(`${f.function}.activeInstances`, num(f.activeInstances)), num: true, sort: (f) => f.activeInstances },
];

/** @param {System} s */
function functionsPanel(s) {
  const r = s.runtime;
  const source = r.source ? SOURCES[r.source] : null;
  const intro = source ? `Read from ${source}.` : "No runtime series is configured (RUNTIME_SERIES).";
  return h("section", {},
    h("h2", {}, "Functions"),
    h("p", { class: "muted" }, intro),
    r.error ? message("error", "The functions' runtime could not be read", r.error) : null,
    h("div", { class: "tiles" },
      tile("Firestore reads per minute", "system.firestoreReadsPerMinute", num(r.firestoreReadsPerMinute, 1), `${num(r.firestoreReads)} in the window`),
      tile("Firestore writes per minute", "system.firestoreWritesPerMinute", num(r.firestoreWritesPerMinute, 1), `${num(r.firestoreWrites)} in the window`)),
    table(FUNCTION_COLUMNS, s.functions, {
      state: { column: 0, descending: false }, label: "Functions", empty: "No function ran in this window.",
    }));
}

/**
 * How long the oldest job has waited, in hours and minutes: 54,762 s is read at a glance as
 * "waiting 15 h 12 min". Nothing under a minute (the seconds say it).
 * @param {number | null | undefined} seconds
 * @returns {string | undefined}
 */
function waited(seconds) {
  if (seconds === null || seconds === undefined || seconds < 60) return undefined;
  const minutes = Math.floor(seconds / 60);
  const hours = Math.floor(minutes / 60);
  return hours ? `waiting ${hours} h ${minutes % 60} min` : `waiting ${minutes} min`;
}

/** @param {import("../pages.js").PageContext} context */
export async function render(context) {
  const { main, params } = context;
  const bar = await controlBar(context, { provider: false });
  const [s, alerts] = await Promise.all([
    get("/system", windowParams(params, { provider: false })),
    openAlertsOn("system", "Open alerts on the queue and the functions", "No rule on the queue or the functions is open."),
  ]);
  const q = s.queue;
  replace(main,
    h("h1", {}, "System"),
    h("p", {}, "The monitor's own checks (tick, rollups, rejections, notifications, exports): ", h("a", { href: "/health", "data-nav": true }, "Health")),
    bar,
    h("p", { class: "muted" }, `${when(s.window.from)} – ${when(s.window.to)}; counts by status are now (${when(s.asOf)})`),
    alerts,
    h("h2", {}, "Queue"),
    h("div", { class: "tiles" },
      tile("Queued now", "system.queued", num(q.queued), `${num(q.processing)} processing`),
      tile("Oldest queued job", "system.oldestQueuedSeconds", secs(q.oldestQueuedSeconds), waited(q.oldestQueuedSeconds)),
      tile("Wait p50 / p95", "system.waitSeconds", `${secs(q.waitP50Seconds)} / ${secs(q.waitP95Seconds)}`, `${num(q.waitSamples)} jobs started`),
      tile("Net growth per minute", "system.netGrowthPerMinute", num(q.netGrowthPerMinute, 2), `${num(q.arrivals)} arrived, ${num(q.departures)} left`)),
    table(QUEUE_COLUMNS, s.providers, { state: { column: 0, descending: false }, label: "Queue per provider" }),
    functionsPanel(s));
}
