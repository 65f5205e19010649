// @ts-check
// Providers: a sortable comparison (success, p95, quality, rating, cost per output second,
// error mix) and small multiples of each provider's success rate and p95 over the window.

import { get } from "../api.js";
import { TimeChart } from "../panels/charts.js";
import { controlBar, granularity, windowParams } from "../panels/controls.js";
import { bucketDrill, generationsLink } from "../panels/drill.js";
import { table } from "../panels/table.js";
import { controlBadge } from "../panels/traffic.js";
import { h, num, pct, replace, secs, usd, when } from "../ui.js";

/** @import { GetResponses } from "../contract.js" */
/** @typedef {GetResponses["/providers"]["providers"][number] & { q?: GetResponses["/quality"]["providers"][number] }} Row */

/**
 * Each error code with its count, linked to the provider's failed generations with that code.
 * @param {Record<string, number> | undefined} errors
 * @param {Record<string, string>} filters the window and provider
 */
function errorMix(errors, filters) {
  const entries = Object.entries(errors || {}).sort((a, b) => b[1] - a[1]);
  if (!entries.length) return "none";
  return entries.map(([code, count], i) => [i ? ", " : "",
    generationsLink(`${code} ${count}`, { ...filters, status: "failed", errorCode: code })]);
}

// What bought no output: failed jobs and the failed attempts of retried ones (docs/figures.md).
/** @param {Row} p */
const wasted = (p) => (p.failedCostUsd || 0) + (p.retryWasteUsd || 0);

/** @param {import("../pages.js").PageContext} context */
export async function render(context) {
  const { main, params } = context;
  const bar = await controlBar(context, { provider: false });
  const window = windowParams(params, { provider: false });
  const [providers, quality, controls] = await Promise.all([
    get("/providers", window), get("/quality", window), get("/provider-controls")]);
  const control = new Map(controls.controls.map((c) => [c.provider, c]));
  const ratings = new Map(quality.providers.map((p) => [p.provider, p]));
  const rows = providers.providers.map((p) => ({ ...p, q: ratings.get(p.provider) }));
  const sort = { column: 3, descending: false };
  const holder = h("div", {});
  /** @type {Array<import("../panels/table.js").Column<Row>>} */
  const columns = [
    { label: "Provider", value: (p) => h("a", { href: `/?provider=${encodeURIComponent(p.provider)}` }, p.provider), sort: (p) => p.provider },
    { label: "Traffic", value: (p) => h("span", { title: control.get(p.provider)?.reason || "" }, controlBadge(control.get(p.provider))), sort: (p) => control.get(p.provider)?.weight ?? 1 },
    { label: "Generations", num: true, sort: (p) => p.generations.total,
      value: (p) => generationsLink(num(p.generations.total), { ...window, provider: p.provider }, `${num(p.generations.total)} generations of ${p.provider}: list them`) },
    { label: "Success rate", value: (p) => h("span", { "data-provider-figure": `${p.provider}.successRate` }, pct(p.successRate, 2)), num: true, sort: (p) => p.successRate },
    { label: "p95 time", value: (p) => secs(p.generationTimeSeconds.p95), num: true, sort: (p) => p.generationTimeSeconds.p95 },
    { label: "Quality", value: (p) => num(p.quality?.avgScore, 2), num: true, sort: (p) => p.quality?.avgScore },
    { label: "Rating", value: (p) => num(p.q?.satisfaction?.avgRating, 2), num: true, sort: (p) => p.q?.satisfaction?.avgRating },
    { label: "Cost / output s", value: (p) => usd(p.costPerOutputSecondUsd, 4), num: true, sort: (p) => p.costPerOutputSecondUsd },
    { label: "Spent on failures", num: true, sort: (p) => wasted(p),
      value: (p) => h("span", { "data-provider-figure": `${p.provider}.wasted`, title: `failed jobs ${usd(p.failedCostUsd)}, failed retry attempts ${usd(p.retryWasteUsd)}` },
        usd(wasted(p)), p.costUsd ? ` (${pct(wasted(p) / p.costUsd, 0)})` : "") },
    { label: "Errors", value: (p) => errorMix(p.errors, { ...window, provider: p.provider }), sort: (p) => Object.values(p.errors || {}).reduce((a, b) => a + b, 0) },
  ];
  /** @returns {HTMLElement} */
  const draw = () => replace(holder, table(columns, rows, {
    state: sort, onSort: draw, caption: "Select a column heading to sort.", empty: "No provider had a generation in this window.",
  }));
  draw();
  const multiples = h("div", { class: "small-multiples" });
  replace(main,
    h("h1", {}, "Providers"),
    bar,
    h("p", { class: "muted" }, `${when(providers.window.from)} – ${when(providers.window.to)}`),
    holder,
    h("h2", {}, "Success rate and p95 generation time per provider"),
    multiples);
  // One trends call per provider, drawn as each arrives, in the table's provider order.
  const names = rows.map((p) => p.provider).sort();
  await Promise.all(names.map(async (name) => {
    const rate = new TimeChart({ title: `${name}: success rate`, unit: "ratio", height: 140 });
    const p95 = new TimeChart({ title: `${name}: p95 time`, unit: "seconds", height: 140 });
    multiples.append(rate.el, p95.el);
    const trends = await get("/trends", { ...window, provider: name, granularity: granularity(params), horizon: 0 });
    const x = trends.series.map((s) => s.start);
    const drill = bucketDrill(trends.granularity, { provider: name });
    rate.update({ x, drill: bucketDrill(trends.granularity, { provider: name, status: "failed" }),
      lines: [{ label: "success", values: trends.series.map((s) => s.successRate) }] });
    p95.update({ x, drill, lines: [{ label: "p95", values: trends.series.map((s) => s.generationTimeSeconds.p95) }] });
  }));
}
