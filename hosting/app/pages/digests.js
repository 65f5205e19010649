// @ts-check
// Digests: which digests the signed-in user receives (GET|PUT /me/digests), and the last daily
// or weekly digest as it was mailed (GET /digest): headline figures against their targets and the
// period before, providers that regressed, the alerts and the recommendations.

import { get } from "../api.js";
import { DIGEST_PERIODS, DIGEST_PERIODS_DEFAULT } from "../contract.js";
import { digests } from "../panels/digests.js";
import { table } from "../panels/table.js";
import { badge, h, num, pct, replace, secs, usd, when } from "../ui.js";

/** @import { GetResponses } from "../contract.js" */
/** @typedef {GetResponses["/digest"]} Digest */
/** @typedef {Digest["headline"][number]} Headline */

/**
 * A headline figure in its unit.
 * @param {Headline["unit"]} unit
 * @param {number | null} value
 */
function inUnit(unit, value) {
  if (unit === "ratio") return pct(value, 2);
  if (unit === "s") return secs(value);
  if (unit === "usd") return usd(value);
  if (unit === "count") return num(value);
  return num(value, 2);
}

/** @param {Headline} row */
function change(row) {
  if (row.change === null) return "–";
  const sign = row.change > 0 ? "+" : "";
  return `${sign}${(row.change * 100).toFixed(1)}%`;
}

/** @param {Digest} d */
function digestView(d) {
  const a = d.alerts;
  return h("section", { "aria-labelledby": "digest-heading" },
    h("h2", { id: "digest-heading" }, `The ${d.period.kind} digest ${d.period.key.replace(/^\w+-/, "")}`),
    h("p", { class: "muted" }, `${when(d.period.from)} – ${when(d.period.to)}, against ${when(d.previous.from)} – ${when(d.previous.to)}.`),
    table([
      { label: "Figure", value: (r) => r.label },
      { label: "Value", num: true, value: (r) => h("span", { "data-digest-figure": `${r.name}.value` }, inUnit(r.unit, r.value)) },
      { label: "Previous", num: true, value: (r) => h("span", { "data-digest-figure": `${r.name}.previous` }, inUnit(r.unit, r.previous)) },
      { label: "Change", num: true, value: (r) => change(r) },
      { label: "Target", num: true, value: (r) => (r.target ? `${r.target.direction === "min" ? "≥" : "≤"} ${inUnit(r.unit, r.target.value ?? null)}` : "–") },
      { label: "Met", value: (r) => (r.met === null ? "–" : badge(r.met ? "st-resolved" : "sev-critical", r.met ? "met" : "missed")) },
    ], d.headline, { label: "Headline figures", empty: "No figures for this period." }),
    h("h3", {}, "Providers that regressed"),
    table([
      { label: "Provider", value: (r) => r.provider },
      { label: "Figure", value: (r) => r.metric },
      { label: "Value", num: true, value: (r) => num(r.value, 3) },
      { label: "Previous", num: true, value: (r) => num(r.previous, 3) },
      { label: "Worse by", num: true, value: (r) => num(r.worseBy, 3) },
    ], d.regressions, { label: "Regressions", empty: "None." }),
    h("h3", {}, "Alerts"),
    h("p", { "data-digest-figure": "alerts" },
      `${num(a.fired)} fired (${num(a.critical)} critical), ${num(a.unacknowledged)} never acknowledged; median ${a.medianAckMinutes === null ? "–" : `${num(a.medianAckMinutes, 1)} min`} to acknowledge, ${a.medianResolveMinutes === null ? "–" : `${num(a.medianResolveMinutes, 1)} min`} to resolve.`),
    h("h3", {}, "Recommendations"),
    d.recommendations.length
      ? h("ol", { "data-digest-figure": "recommendations" }, d.recommendations.map((r) =>
        h("li", {}, h("strong", {}, r.title), h("div", { class: "muted" }, r.text))))
      : h("p", { class: "muted", "data-digest-figure": "recommendations" }, "None: nothing to change."));
}

/** @param {import("../pages.js").PageContext} context */
export async function render({ main, params, navigate }) {
  const period = params.get("period") || DIGEST_PERIODS_DEFAULT;
  // The API names a period it does not know (a 400 the console shows as a bad link).
  const [choice, digest] = await Promise.all([get("/me/digests"), get("/digest", { period })]);
  const picker = h("select", { id: "digest-period", onchange: () => {
    const next = new URLSearchParams(params);
    if (picker.value === DIGEST_PERIODS_DEFAULT) next.delete("period");
    else next.set("period", picker.value);
    navigate(location.pathname, next);
  } }, DIGEST_PERIODS.map((p) => h("option", { value: p, selected: p === period }, p === "weekly" ? "Last week" : "Yesterday")));
  replace(main,
    h("h1", {}, "Digests"),
    h("p", { class: "muted" }, "Digests are mailed to the address you signed in with; pick which you receive. Below, the last one of each kind as it was sent."),
    digests(choice),
    h("div", { class: "controls", role: "group", "aria-label": "Digest shown", style: "margin-top:16px" },
      h("div", {}, h("label", { for: "digest-period" }, "Digest"), picker)),
    digestView(digest));
}
