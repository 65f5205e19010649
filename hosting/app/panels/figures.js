// @ts-check
// A custom dashboard's panel: one figure of one scope over a named window, read from the endpoint
// the fixed page reads it from (a tile) or from /trends per bucket (a line, bars or a table), and
// drawn with the same tiles, charts and table, so it shows exactly the fixed page's figure.

import { get } from "../api.js";
import { TimeChart } from "./charts.js";
import { granularity } from "./controls.js";
import { table } from "./table.js";
import { tile } from "./tiles.js";
import { errorText, h, message, num, pct, secs, usd, when } from "../ui.js";

/** @import { GetResponses, PanelFigure, TrendMetric, WindowName } from "../contract.js" */
/** @typedef {GetResponses["/dashboards"]["dashboards"][number]["panels"][number]} Panel */
/** @typedef {GetResponses["/trends"]["series"][number]} TrendPoint */
/** @typedef {"/summary" | "/business" | "/performance" | "/system"} Source */
/** @typedef {{ "/summary": GetResponses["/summary"], "/business": GetResponses["/business"], "/performance": GetResponses["/performance"], "/system": GetResponses["/system"] }} Answers */
/** @typedef {number | null | undefined} Value */

/**
 * What a figure is: its label, the endpoint answering it and where it is in the answer, how it is
 * written and charted, and the /trends metric and point value that draw it over time.
 * @typedef {object} FigureSpec
 * @property {string} label
 * @property {Source} source
 * @property {(answer: any) => Value} value
 * @property {(v: Value) => string} fmt
 * @property {import("./charts.js").Unit} unit
 * @property {TrendMetric} [metric]
 * @property {(p: TrendPoint) => Value} [point]
 */

/** @type {Record<PanelFigure, FigureSpec>} */
export const FIGURES = {
  "generations.total": { label: "Generations", source: "/summary", value: (a) => a.generations.total, fmt: (v) => num(v), unit: "count", metric: "total", point: (p) => p.total },
  "generations.failed": { label: "Failed generations", source: "/summary", value: (a) => a.generations.failed, fmt: (v) => num(v), unit: "count", metric: "failed", point: (p) => p.failed },
  successRate: { label: "Success rate", source: "/summary", value: (a) => a.generations.successRate, fmt: (v) => pct(v, 2), unit: "ratio", metric: "successRate", point: (p) => p.successRate },
  "generationTimeSeconds.avg": { label: "Average generation time", source: "/summary", value: (a) => a.generationTimeSeconds.avg, fmt: (v) => secs(v), unit: "seconds", metric: "avgGenerationSeconds", point: (p) => p.generationTimeSeconds.avg },
  "generationTimeSeconds.p95": { label: "p95 generation time", source: "/summary", value: (a) => a.generationTimeSeconds.p95, fmt: (v) => secs(v), unit: "seconds", metric: "p95GenerationSeconds", point: (p) => p.generationTimeSeconds.p95 },
  "quality.avgScore": { label: "Quality score", source: "/summary", value: (a) => a.quality.avgScore, fmt: (v) => num(v, 2), unit: "count", metric: "avgQualityScore", point: (p) => p.avgQualityScore },
  "satisfaction.avgRating": { label: "Satisfaction", source: "/summary", value: (a) => a.satisfaction.avgRating, fmt: (v) => num(v, 2), unit: "count", metric: "avgUserRating", point: (p) => p.avgUserRating },
  costUsd: { label: "Provider cost", source: "/summary", value: (a) => a.costUsd, fmt: (v) => usd(v), unit: "usd", metric: "costUsd", point: (p) => p.costUsd },
  "business.revenueUsd": { label: "Revenue", source: "/business", value: (a) => a.revenueUsd, fmt: (v) => usd(v), unit: "usd", metric: "revenueUsd", point: (p) => p.revenueUsd },
  "business.upgrades": { label: "Premium upgrades", source: "/business", value: (a) => a.upgrades, fmt: (v) => num(v), unit: "count", metric: "upgrades", point: (p) => p.upgrades },
  "business.conversionRate": { label: "Conversion (upgrades per free generation)", source: "/business", value: (a) => a.conversionRate, fmt: (v) => pct(v, 2), unit: "share", metric: "conversionRate", point: (p) => p.conversionRate },
  premiumAdoption: { label: "Premium feature adoption", source: "/business", value: (a) => a.premiumFeatures.adoptionRate, fmt: (v) => pct(v), unit: "share" },
  throughputPerHour: { label: "Throughput (completed per hour)", source: "/performance", value: (a) => a.throughputPerHour, fmt: (v) => num(v, 1), unit: "count" },
  costPerOutputSecondUsd: { label: "Cost per output second", source: "/performance", value: (a) => a.costPerOutputSecondUsd, fmt: (v) => usd(v, 4), unit: "usd" },
  "queue.queued": { label: "Queued now", source: "/system", value: (a) => a.queue.queued, fmt: (v) => num(v), unit: "count" },
  "queue.waitP95Seconds": { label: "Queue wait p95", source: "/system", value: (a) => a.queue.waitP95Seconds, fmt: (v) => secs(v), unit: "seconds" },
};

/** @type {Record<string, string>} */
export const CHART_LABELS = { tile: "Tile", line: "Line chart", bar: "Bar chart", table: "Table" };

/**
 * The query a panel's reads carry: its window and, unless overall, its provider.
 * @param {Panel} panel
 * @returns {Record<string, string>}
 */
export function panelParams(panel) {
  /** @type {Record<string, string>} */
  const out = { window: panel.window };
  if (panel.scope !== "overall") out.provider = panel.scope;
  return out;
}

/**
 * The panel's heading: the figure, its scope and window.
 * @param {Panel} panel
 */
export function panelTitle(panel) {
  const spec = FIGURES[panel.figure];
  return `${spec?.label ?? panel.figure} · ${panel.scope === "overall" ? "all providers" : panel.scope} · ${panel.window}`;
}

/**
 * One panel, rendered once its figure is read; a figure the API cannot answer shows its message
 * inside the panel and leaves the others alone.
 * @param {Panel} panel
 * @param {number} index its position on the dashboard (the element's data-panel)
 * @returns {Promise<HTMLElement>}
 */
export async function panelView(panel, index) {
  const spec = FIGURES[panel.figure];
  const title = panelTitle(panel);
  const holder = h("section", { class: "board-panel", "data-panel": index, "aria-label": title });
  if (!spec) {
    holder.append(message("error", `Panel ${index + 1} cannot be shown`, `The console does not know the figure ${panel.figure}.`));
    return holder;
  }
  const params = panelParams(panel);
  try {
    if (panel.chart === "tile") {
      /** @type {Answers[Source]} */
      const answer = await get(spec.source, params);
      const value = spec.value(answer);
      holder.append(tile(title, panel.figure, spec.fmt(value), `${when(answer.window.from)} – ${when(answer.window.to)}`));
      holder.dataset.value = value === null || value === undefined ? "" : String(value);
      return holder;
    }
    const trends = await get("/trends", { ...params, metric: spec.metric, granularity: granularity(new URLSearchParams(params)), horizon: 0 });
    const point = spec.point || (() => null);
    const x = trends.series.map((p) => p.start);
    const values = trends.series.map(point);
    if (panel.chart === "table") {
      holder.append(h("h3", {}, title), table([
        { label: `Bucket (${trends.granularity}, UTC)`, value: (p) => when(p.start) },
        { label: spec.label, value: (p) => h("span", { "data-bucket": p.start }, spec.fmt(point(p))), num: true },
      ], trends.series, { label: title }));
      return holder;
    }
    const chart = new TimeChart({ title, unit: spec.unit, height: 200 });
    holder.append(chart.el);
    chart.update({
      x,
      lines: [{ label: spec.label, values, bars: panel.chart === "bar" }],
      summary: `${trends.series.length} ${trends.granularity} buckets, ${when(trends.window.from)} – ${when(trends.window.to)}`,
    });
    return holder;
  } catch (error) {
    holder.append(h("h3", {}, title), message("error", "This figure cannot be shown", errorText(error)));
    return holder;
  }
}
