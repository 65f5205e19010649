// @ts-check
// Time-series charts on uPlot (vendored, global `uPlot`). A chart keeps its plot across refreshes
// and only swaps the data, so a live refresh does not flicker.

import { h } from "../ui.js";

/** @import uPlot from "uplot" */
/** @typedef {number | null | undefined} Value */
/** @typedef {"count" | "ratio" | "share" | "seconds" | "usd"} Unit */
/** @typedef {{ title: string, unit: Unit, height?: number }} ChartSpec */
/** @typedef {{ label: string, x: string[], lower: Value[], upper: Value[], value: Value[] }} Band */
/**
 * What a chart draws: lines over the buckets `x`, a forecast band, a threshold, marked points,
 * and a text for screen readers.
 * @typedef {object} ChartData
 * @property {string[]} x
 * @property {Array<{ label: string, values: Value[], color?: string, dash?: number[], bars?: boolean }>} lines
 * @property {Band | null} [band]
 * @property {number | null} [threshold]
 * @property {Array<{ x: string, value: Value }>} [marks]
 * @property {string} [summary]
 * @property {(x: string) => string} [drill] the URL of the generations behind bucket `x`
 */

/** @param {string} name */
function css(name) {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
}

/** @param {string} iso */
const seconds = (iso) => Date.parse(iso) / 1000;

// y ranges: a ratio (success rate) from at most 80% to 100%; a share (conversion) from 0 to a
// little above its largest value.
/** @type {Partial<Record<Unit, uPlot.Range.Function>>} */
const Y_RANGES = {
  ratio: (_u, lo) => [Math.max(0, Math.min(lo ?? 0, 0.8)), 1],
  share: (_u, _lo, hi) => [0, Math.max(0.01, (hi ?? 0) * 1.15)],
};

/**
 * The band a /trends forecast draws: its points' 95% interval and central value (null: none).
 * @param {import("../contract.js").GetResponses["/trends"]["forecast"]} forecast
 * @returns {Band | null}
 */
export function forecastBand(forecast) {
  if (!forecast) return null;
  return {
    label: "forecast", x: forecast.points.map((p) => p.start),
    lower: forecast.points.map((p) => p.lower), upper: forecast.points.map((p) => p.upper),
    value: forecast.points.map((p) => p.value),
  };
}

export class TimeChart {
  /** @param {ChartSpec} spec */
  constructor(spec) {
    this.spec = spec;
    /** @type {uPlot | null} */
    this.plot = null;
    this.shape = "";
    this.plotEl = h("div", { class: "plot", style: `min-height:${spec.height || 220}px` });
    this.summary = h("p", { class: "muted", style: "font-size:12px;margin:4px 0 0" });
    this.title = h("h3", {}, spec.title);
    // Links to the generations behind each bucket; a click on the plot follows its bucket's.
    this.drillEl = h("div", {});
    /** @type {string[]} */
    this.buckets = [];
    this.el = h("figure", { class: "chart", style: "margin:0" }, this.title, this.plotEl, this.summary, this.drillEl);
    this.plotEl.addEventListener("click", () => this.follow());
    this.observer = new ResizeObserver(() => this.resize());
    this.observer.observe(this.plotEl);
  }

  resize() {
    if (this.plot) this.plot.setSize({ width: this.width(), height: this.spec.height || 220 });
  }

  width() {
    return Math.max(240, this.plotEl.clientWidth || 400);
  }

  /** Follow the link of the bucket under the cursor (the console's router takes the click). */
  follow() {
    const i = this.plot?.cursor.idx;
    const x = i === null || i === undefined ? undefined : this.buckets[i];
    const link = x && [...this.drillEl.querySelectorAll("a")].find((a) => a.dataset.bucket === x);
    if (link) link.click();
  }

  /** @param {ChartData} data */
  drill(data) {
    const drill = data.drill;
    const shown = drill ? data.x.join("|") : "";
    this.plotEl.style.cursor = drill ? "pointer" : "";
    if (shown === this.drillEl.dataset.shown) return;
    this.drillEl.dataset.shown = shown;
    if (!drill) {
      this.drillEl.replaceChildren();
      return;
    }
    const links = data.x.map((x) => h("li", {}, h("a", { href: drill(x), dataset: { bucket: x } },
      new Date(x).toLocaleString("en-GB", { timeZone: "UTC", dateStyle: "medium", timeStyle: "short" }), " UTC")));
    this.drillEl.replaceChildren(h("details", { class: "drill-list" },
      h("summary", {}, `Generations behind each bucket (${this.spec.title})`), h("ul", {}, links)));
  }

  /** @param {ChartData} data */
  update(data) {
    this.drill(data);
    // Every x: the series' buckets, then forecast buckets after them.
    const xs = [...new Set([...data.x, ...(data.band ? data.band.x : [])])].sort();
    const index = new Map(xs.map((x, i) => [x, i]));
    this.buckets = xs.map((x) => (data.x.includes(x) ? x : ""));
    /**
     * @param {Array<[string, Value]>} pairs
     * @returns {Array<number | null>}
     */
    const column = (pairs) => {
      /** @type {Array<number | null>} */
      const out = new Array(xs.length).fill(null);
      for (const [x, v] of pairs) {
        const i = index.get(x);
        if (i !== undefined) out[i] = v ?? null;
      }
      return out;
    };
    /** @type {uPlot.Series[]} */
    const series = [{}];
    /** @type {Array<Array<number | null>>} */
    const columns = [xs.map(seconds)];
    /** @param {unknown} _u @param {number | null} v */
    const value = (_u, v) => this.format(v);
    const palette = [css("--chart-1"), css("--chart-2"), css("--chart-3")];
    data.lines.forEach((line, i) => {
      const stroke = line.color || palette[i % 3];
      series.push({ label: line.label, stroke, width: 2, dash: line.dash, value, spanGaps: false,
        // Bars: one per bucket, filled (a dashboard panel drawn as bars).
        ...(line.bars ? { paths: window.uPlot.paths.bars?.({ size: [0.6, 64] }), fill: stroke, width: 1, points: { show: false } } : {}) });
      columns.push(column(data.x.map((x, j) => [x, line.values[j]])));
    });
    /** @type {uPlot.Band[]} */
    const bands = [];
    if (data.band) {
      const band = data.band;
      const first = series.length;
      series.push({ label: `${band.label} (upper)`, stroke: "transparent", value });
      columns.push(column(band.x.map((x, j) => [x, band.upper[j]])));
      series.push({ label: `${band.label} (lower)`, stroke: "transparent", value });
      columns.push(column(band.x.map((x, j) => [x, band.lower[j]])));
      series.push({ label: band.label, stroke: palette[0], dash: [6, 4], width: 1.5, value });
      columns.push(column(band.x.map((x, j) => [x, band.value[j]])));
      bands.push({ series: [first, first + 1], fill: css("--band") });
    }
    const threshold = data.threshold;
    if (threshold !== undefined && threshold !== null) {
      series.push({ label: "threshold", stroke: css("--bad"), dash: [4, 4], width: 1.5,
        value: () => this.format(threshold) });
      columns.push(xs.map(() => threshold));
    }
    if (data.marks?.length) {
      series.push({ label: "anomaly", stroke: css("--bad"), paths: () => null,
        points: { show: true, size: 10, fill: css("--bad") }, value });
      columns.push(column(data.marks.map((m) => [m.x, m.value])));
    }
    const shape = series.map((s) => s.label).join("|");
    this.summary.textContent = data.summary || "";
    if (this.plot && shape === this.shape) {
      this.plot.setData(/** @type {uPlot.AlignedData} */ (columns));
      return;
    }
    if (this.plot) this.plot.destroy();
    this.shape = shape;
    const axisColor = css("--muted");
    const grid = { stroke: css("--line"), width: 1 };
    const range = Y_RANGES[this.spec.unit];
    this.plot = new window.uPlot({
      width: this.width(),
      height: this.spec.height || 220,
      series,
      bands,
      scales: { x: { time: true }, y: range ? { range } : {} },
      axes: [
        { stroke: axisColor, grid, ticks: grid },
        { stroke: axisColor, grid, ticks: grid, size: 60, values: (_u, vals) => vals.map((v) => this.format(v, true)) },
      ],
      legend: { live: true },
      cursor: { drag: { x: false, y: false } },
    }, /** @type {uPlot.AlignedData} */ (columns), this.plotEl);
  }

  /**
   * @param {number | null | undefined} value
   * @param {boolean} [axis] a tick: as many decimals as the step needs
   */
  format(value, axis = false) {
    if (value === null || value === undefined) return "–";
    switch (this.spec.unit) {
      case "ratio":
      case "share": return axis ? `${Number((value * 100).toFixed(1))}%` : `${(value * 100).toFixed(1)}%`;
      case "seconds": return axis ? `${Number(value.toFixed(1))} s` : `${value.toFixed(1)} s`;
      case "usd": return axis ? `$${Number(value.toFixed(2))}` : `$${value.toFixed(2)}`;
      // Axis ticks: as many decimals as the tick step needs (at most 3), no trailing zeros.
      default: return String(Number(value.toFixed(axis ? 3 : 2)));
    }
  }
}
