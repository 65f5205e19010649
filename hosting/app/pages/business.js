// @ts-check
// Business: revenue, conversion, their trend per bucket with a forecast of revenue, premium
// adoption by feature, the engagement funnel, retention.

import { get } from "../api.js";
import { TimeChart, forecastBand } from "../panels/charts.js";
import { controlBar, granularity, windowParams } from "../panels/controls.js";
import { table } from "../panels/table.js";
import { tile } from "../panels/tiles.js";
import { errorText, h, num, pct, replace, usd, when } from "../ui.js";

/** @param {import("../pages.js").PageContext} context */
export async function render(context) {
  const { main, params } = context;
  const bar = await controlBar(context);
  // The charts are extra: if the trends cannot be answered the figures still show.
  const [b, trends] = await Promise.all([
    get("/business", windowParams(params)),
    get("/trends", { ...windowParams(params), granularity: granularity(params), metric: "revenueUsd", horizon: 6 })
      .catch((/** @type {unknown} */ error) => new Error(errorText(error))),
  ]);
  const whole = params.get("provider") ? " (upgrades belong to no provider: the whole product's)" : "";
  const revenue = new TimeChart({ title: `Revenue per bucket, with forecast (95% band)${whole}`, unit: "usd" });
  const conversion = new TimeChart({ title: "Conversion (upgrades per free generation)", unit: "share" });
  const g = b.generations;
  const e = b.engagement;
  const features = Object.entries(b.premiumFeatures.byFeature || {}).map(([feature, count]) => ({ feature, count }));
  const funnel = [
    { step: "Generations", count: g.total },
    { step: "Views", count: e.views },
    { step: "Shares", count: e.shares },
    { step: "Downloads", count: e.downloads },
    { step: "Premium upgrades", count: b.upgrades },
  ];
  const retention = [b.retention?.days7, b.retention?.days30]
    .map((r, i) => ({ name: i ? "30-day" : "7-day", cohortDay: null, cohort: null, retained: null, rate: null, ...(r || {}) }));
  replace(main,
    h("h1", {}, "Business"),
    bar,
    h("p", { class: "muted" }, `${when(b.window.from)} – ${when(b.window.to)}`),
    h("div", { class: "tiles" },
      tile("Revenue", "business.revenueUsd", usd(b.revenueUsd), `${num(b.upgrades)} upgrades`),
      tile("Conversion (upgrades per free generation)", "business.conversionRate", pct(b.conversionRate, 2)),
      tile("Premium share of generations", "premiumShare", pct(g.premiumShare), `${num(g.premium)} of ${num(g.total)}`),
      tile("Premium feature adoption", "premiumAdoption", pct(b.premiumFeatures.adoptionRate),
        `${num(b.premiumFeatures.generationsWithFeatures)} premium generations used a feature`)),
    h("div", { class: "charts" }, revenue.el, conversion.el),
    h("div", { class: "grid2" },
      h("section", {}, h("h2", {}, "Premium features used"),
        table([
          { label: "Feature", value: (f) => f.feature },
          { label: "Generations", value: (f) => num(f.count), num: true },
        ], features, { empty: "No premium feature was used in this window." })),
      h("section", {}, h("h2", {}, "Engagement funnel"),
        table([
          { label: "Step", value: (f) => f.step },
          { label: "Count", value: (f) => num(f.count), num: true },
          { label: "Per generation", value: (f) => (g.total ? num(f.count / g.total, 3) : "–"), num: true },
        ], funnel))),
    h("h2", {}, "Retention"),
    table([
      { label: "Cohort", value: (r) => r.name },
      { label: "Cohort day", value: (r) => when(r.cohortDay) },
      { label: "Users", value: (r) => num(r.cohort), num: true },
      { label: "Retained", value: (r) => num(r.retained), num: true },
      { label: "Rate", value: (r) => pct(r.rate), num: true },
    ], retention),
    h("p", { class: "muted" }, b.retention?.snapshotDay
      ? `Retention as of the daily snapshot of ${when(b.retention.snapshotDay)}.`
      : "No daily snapshot covers this window yet (one is taken each day after midnight UTC)."));
  if (trends instanceof Error) {
    for (const chart of [revenue, conversion]) chart.summary.textContent = `No trend: ${trends.message}`;
    return;
  }
  const x = trends.series.map((p) => p.start);
  const forecast = trends.forecast;
  revenue.update({
    x,
    lines: [{ label: "revenue", values: trends.series.map((p) => p.revenueUsd) }],
    band: forecastBand(forecast),
    summary: `${trends.series.length} ${trends.granularity} buckets, ${usd(trends.series.reduce((sum, p) => sum + p.revenueUsd, 0))} in all` +
      (forecast ? `; next ${trends.granularity} forecast ${usd(forecast.points[0]?.value)}` : `; ${trends.forecastUnavailable || "no forecast"}`),
  });
  conversion.update({
    x,
    lines: [{ label: "conversion", values: trends.series.map((p) => p.conversionRate) }],
    summary: `${num(trends.series.reduce((sum, p) => sum + p.upgrades, 0))} upgrades over ${num(trends.series.reduce((sum, p) => sum + p.freeGenerations, 0))} free generations`,
  });
}
