// @ts-check
// Overview: the headline figures against their targets and the previous period, volume with its
// forecast band and anomalies, success rate, generation time percentiles, the error budgets of
// the service level objectives, backlog, open alerts.
// It refreshes itself; each refresh swaps text and chart data in place.

import { get } from "../api.js";
import { alertRows } from "../panels/alerts.js";
import { TimeChart, forecastBand } from "../panels/charts.js";
import { controlBar, granularity, previousWindow, windowParams } from "../panels/controls.js";
import { bucketDrill } from "../panels/drill.js";
import { sloPanel } from "../panels/slos.js";
import { h, num, pct, replace, secs, usd, when } from "../ui.js";

/** @import { GetResponses } from "../contract.js" */
/** @typedef {GetResponses["/targets"]} Targets */
/** @typedef {{ summary: GetResponses["/summary"], business: GetResponses["/business"] }} Figures */
/** @typedef {Figures & { trends: GetResponses["/trends"], performance: GetResponses["/performance"], open: GetResponses["/alerts"], before: Figures | null }} Loaded */
/**
 * A tile: what it shows, where the figure is in the loaded data, how it is written, which target
 * (from GET /targets) it is held against, or whether lower is better.
 * @typedef {object} TileSpec
 * @property {string} id
 * @property {string} label
 * @property {(d: Figures) => number | null | undefined} value
 * @property {(v: number | null | undefined) => string} fmt
 * @property {string} [target]
 * @property {boolean} [lowerIsBetter]
 * @property {boolean} [noDelta]
 * @property {string} [good]
 * @property {(d: Figures) => string} [extra]
 */

/** @type {TileSpec[]} */
const TILES = [
  { id: "generations.total", label: "Generations", value: (d) => d.summary.generations.total, fmt: (v) => num(v), good: "up-neutral" },
  { id: "successRate", label: "Success rate", value: (d) => d.summary.generations.successRate, fmt: (v) => pct(v, 2), target: "successRate" },
  { id: "generationTimeSeconds.avg", label: "Average generation time", value: (d) => d.summary.generationTimeSeconds.avg, fmt: (v) => secs(v), target: "avgGenerationSeconds" },
  { id: "generationTimeSeconds.p95", label: "p95 generation time", value: (d) => d.summary.generationTimeSeconds.p95, fmt: (v) => secs(v), lowerIsBetter: true },
  { id: "quality.avgScore", label: "Quality score", value: (d) => d.summary.quality.avgScore, fmt: (v) => num(v, 2), target: "qualityScore" },
  { id: "satisfaction.avgRating", label: "Satisfaction", value: (d) => d.summary.satisfaction.avgRating, fmt: (v) => num(v, 2), target: "satisfaction" },
  { id: "premiumAdoption", label: "Premium feature adoption", value: (d) => d.business.premiumFeatures?.adoptionRate ?? null, fmt: (v) => pct(v), target: "premiumAdoption" },
  { id: "retention7", label: "7-day retention", value: (d) => d.business.retention?.days7?.rate ?? null, fmt: (v) => pct(v), target: "retention" },
  { id: "costUsd", label: "Provider cost", value: (d) => d.summary.costUsd, fmt: (v) => usd(v), lowerIsBetter: true },
  { id: "business.revenueUsd", label: "Revenue", value: (d) => d.summary.business.revenueUsd, fmt: (v) => usd(v) },
  { id: "inProgress", label: "In progress now", value: (d) => d.summary.generations.inProgress, fmt: (v) => num(v), lowerIsBetter: true, noDelta: true },
  { id: "alerts.active", label: "Open alerts", value: (d) => d.summary.alerts.active, fmt: (v) => num(v), lowerIsBetter: true, noDelta: true, extra: (d) => `${d.summary.alerts.critical} critical` },
];

/**
 * @param {Targets[string]} target
 * @param {number | null | undefined} value
 */
function meets(target, value) {
  if (value === null || value === undefined) return null;
  return target.direction === "min" ? value >= target.value : value <= target.value;
}

/**
 * @param {TileSpec} spec
 * @param {Figures} data
 * @param {Figures | null} previous
 * @param {Targets} targets
 */
function tile(spec, data, previous, targets) {
  const value = spec.value(data);
  const parts = [h("div", { class: "label", id: `tile-${spec.id}` }, spec.label),
    h("div", { class: "value", "data-figure": spec.id }, spec.fmt(value))];
  let state = null;
  const target = spec.target && targets[spec.target];
  if (target) {
    const ok = meets(target, value);
    state = ok === null ? null : ok ? "good" : "bad";
    const sign = target.direction === "min" ? "≥" : "<";
    parts.push(h("div", { class: `target ${ok === false ? "status-bad" : ok ? "status-good" : "muted"}` },
      ok === null ? "no data" : ok ? "✓ on target" : "✗ off target", ` (target ${sign} ${spec.fmt(target.value)})`));
  }
  if (spec.extra) parts.push(h("div", { class: "muted target" }, spec.extra(data)));
  if (previous && !spec.noDelta) {
    const before = spec.value(previous);
    let text = "no earlier data";
    if (before !== null && before !== undefined && value !== null && value !== undefined) {
      const diff = value - before;
      const relative = before !== 0 ? ` (${diff >= 0 ? "+" : ""}${((diff / Math.abs(before)) * 100).toFixed(1)}%)` : "";
      text = `${diff >= 0 ? "▲" : "▼"} ${spec.fmt(Math.abs(diff))}${relative} vs previous period`;
    }
    parts.push(h("div", { class: "delta muted" }, text));
  }
  return h("section", { class: `tile ${state || ""}`, "aria-labelledby": `tile-${spec.id}` }, parts);
}

/** @param {import("../pages.js").PageContext} context */
export async function render(context) {
  const { main, params } = context;
  const compare = params.get("compare") !== "none";
  const bar = await controlBar(context, { compare: true });
  const targets = await get("/targets");
  const tiles = h("div", { class: "tiles" });
  const volume = new TimeChart({ title: "Generations per bucket, with forecast (95% band) and anomalies", unit: "count" });
  const success = new TimeChart({ title: "Success rate", unit: "ratio" });
  const latency = new TimeChart({ title: "Generation time p50 / p95 / p99", unit: "seconds" });
  const backlog = h("div", {});
  const alerts = h("div", {});
  const budgets = sloPanel(params.get("provider"));
  const stamp = h("span", { class: "live" });
  const windowText = h("span", {});
  replace(main,
    h("h1", {}, "Overview"),
    bar,
    h("p", { class: "muted" }, windowText, " · ", stamp),
    tiles,
    h("div", { class: "charts" }, volume.el, success.el, latency.el),
    budgets.el,
    h("div", { class: "grid2" },
      h("section", {}, h("h2", {}, "Queue backlog"), backlog),
      h("section", {}, h("h2", {}, "Open alerts"), alerts)));

  const base = windowParams(params);
  /** @returns {Promise<Loaded>} */
  async function load() {
    // The summary first: its answered window pins every other call to the same minutes.
    const summary = await get("/summary", base);
    const window = pinned(summary.window, base.provider);
    const earlier = previousWindow(summary.window, base.provider);
    const [business, trends, performance, open, previous, previousBusiness] = await Promise.all([
      get("/business", window),
      get("/trends", { ...window, granularity: granularity(params), horizon: 6 }),
      get("/performance", window),
      get("/alerts", { status: "open", provider: base.provider, limit: 1 }),
      compare ? get("/summary", earlier) : null,
      compare ? get("/business", earlier) : null,
    ]);
    const before = previous && previousBusiness ? { summary: previous, business: previousBusiness } : null;
    return { summary, business, trends, performance, open, before };
  }

  /** @param {Loaded} data */
  function show(data) {
    const { summary, trends, performance, open } = data;
    replace(windowText, `${when(summary.window.from)} – ${when(summary.window.to)}`,
      base.provider ? ` · provider ${base.provider}` : " · all providers");
    replace(stamp, `updated ${new Date().toLocaleTimeString("en-GB")}; refreshes every 10 s while this tab is visible`);
    replace(tiles, TILES.map((spec) => tile(spec, data, data.before, targets)));
    const x = trends.series.map((p) => p.start);
    const forecast = trends.forecast;
    // Each bucket links to its generations (the success chart's to its failed ones).
    const drill = bucketDrill(trends.granularity, { provider: base.provider });
    volume.update({
      x,
      drill,
      lines: [{ label: "generations", values: trends.series.map((p) => p.total) }],
      band: forecastBand(forecast),
      marks: trends.anomalies.map((a) => ({ x: a.start, value: a.value })),
      summary: `${trends.series.length} ${trends.granularity} buckets; ${trends.anomalies.length} anomalies` +
        (forecast ? `; next ${trends.granularity} forecast ${num(forecast.points[0]?.value, 0)}` : `; ${trends.forecastUnavailable || "no forecast"}`),
    });
    success.update({
      x,
      drill: bucketDrill(trends.granularity, { provider: base.provider, status: "failed" }),
      lines: [{ label: "success rate", values: trends.series.map((p) => p.successRate) }],
      threshold: targets.successRate ? targets.successRate.value : null,
      summary: `target ${pct(targets.successRate?.value, 1)} shown as the dashed line`,
    });
    latency.update({
      x,
      drill,
      lines: /** @type {const} */ (["p50", "p95", "p99"]).map((q) => ({ label: q, values: trends.series.map((p) => p.generationTimeSeconds[q]) })),
      summary: "percentiles from the rollups' sketch (within 2% relative error)",
    });
    const g = performance.generations;
    replace(backlog, h("dl", { class: "kv panel" },
      h("dt", {}, "Queued"), h("dd", { "data-figure": "queued" }, num(g.queued)),
      h("dt", {}, "Processing"), h("dd", { "data-figure": "processing" }, num(g.processing)),
      h("dt", {}, `Stuck (processing over ${performance.queue?.stuckAfterMinutes ?? 30} min)`),
      h("dd", { "data-figure": "queue.stuck" }, num(performance.queue?.stuck)),
      h("dt", {}, "Average wait in queue"), h("dd", {}, secs(performance.queueSeconds.avg)),
      h("dt", {}, "Throughput"), h("dd", {}, `${num(performance.throughputPerHour, 1)} completed per hour`)));
    // Rebuilt only when the alerts changed, so a refresh never takes the focus from a link.
    const shown = JSON.stringify(open.active.map((a) => [a.alertId, a.status, a.value]));
    if (shown !== alerts.dataset.shown) {
      alerts.dataset.shown = shown;
      replace(alerts, alertRows(open.active, "No open alerts."));
    }
  }

  show(await load());
  await budgets.refresh();
  return async () => {
    show(await load());
    await budgets.refresh();
  };
}

// Windows the API is asked for, pinned to the edges it answered for the summary, so every
// figure on the page describes the same minutes.
/**
 * @param {import("../contract.js").TimeWindow} window
 * @param {string} [provider]
 */
function pinned(window, provider) {
  /** @type {Record<string, string>} */
  const out = { from: window.from, to: window.to };
  if (provider) out.provider = provider;
  return out;
}
