// @ts-check
// Quality and satisfaction: overall, by tier, quality against rating, the provider ranking, and
// error recovery.

import { get } from "../api.js";
import { controlBar, windowParams } from "../panels/controls.js";
import { generationsLink } from "../panels/drill.js";
import { recoveryPanel } from "../panels/recovery.js";
import { table } from "../panels/table.js";
import { tile } from "../panels/tiles.js";
import { h, num, pct, replace, when } from "../ui.js";

/** @param {import("../pages.js").PageContext} context */
export async function render(context) {
  const { main, params } = context;
  const bar = await controlBar(context);
  const window = windowParams(params);
  const [body, recovery] = await Promise.all([get("/quality", window), get("/recovery", window)]);
  const o = body.overall;
  const tiers = Object.entries(body.byTier || {}).map(([tier, t]) => ({ tier, ...t }));
  const bands = body.qualityVsSatisfaction?.byQualityBand || [];
  replace(main,
    h("h1", {}, "Quality and satisfaction"),
    bar,
    h("p", { class: "muted" }, `${when(body.window.from)} – ${when(body.window.to)}`),
    h("div", { class: "tiles" },
      tile("Average quality score", "quality.avgScore", num(o.avgScore, 2), `${num(o.scored)} scored generations`),
      tile("Average user rating", "satisfaction.avgRating", num(o.avgRating, 2), `${num(o.rated)} ratings`),
      tile("Quality–rating correlation", null, num(body.qualityVsSatisfaction?.correlation, 2),
        `${num(body.qualityVsSatisfaction?.pairs)} rated and scored`)),
    h("h2", {}, "By tier"),
    table([
      { label: "Tier", value: (t) => t.tier },
      { label: "Quality", value: (t) => num(t.avgScore, 2), num: true },
      { label: "Scored", value: (t) => num(t.scored), num: true },
      { label: "Rating", value: (t) => num(t.avgRating, 2), num: true },
      { label: "Rated", value: (t) => num(t.rated), num: true },
    ], tiers),
    h("h2", {}, "Provider ranking"),
    h("p", { class: "muted" }, body.ranking?.method || ""),
    table([
      { label: "Provider", value: (p) => generationsLink(p.provider, { ...window, provider: p.provider }, `${p.provider}: list its generations`) },
      { label: "Rank score", value: (p) => num(p.rankScore, 3), num: true },
      { label: "Quality (shrunk)", value: (p) => num(p.quality?.shrunkScore, 2), num: true },
      { label: "Rating", value: (p) => num(p.satisfaction?.avgRating, 2), num: true },
      { label: "Success (lower bound)", value: (p) => pct(p.successRateLowerBound, 2), num: true },
    ], body.providers),
    h("h2", {}, "Rating by quality band"),
    table([
      { label: "Quality", value: (b) => `${b.qualityFrom}–${b.qualityTo}` },
      { label: "Average rating", value: (b) => num(b.avgRating, 2), num: true },
      { label: "Ratings", value: (b) => num(b.rated), num: true },
    ], bands.filter((b) => b.rated > 0), { empty: "No rated generation with a score in this window." }),
    ...recoveryPanel(recovery));
}
