// @ts-check
// Users: daily activity, segments, retention and churn risk (per user and day; no provider),
// sessions, the weekday x hour heatmap and the weekly cohorts.

import { get } from "../api.js";
import { controlBar, windowParams } from "../panels/controls.js";
import { cohortTable, heatmap } from "../panels/heatmap.js";
import { table } from "../panels/table.js";
import { tile } from "../panels/tiles.js";
import { h, num, pct, replace, when } from "../ui.js";

/** @import { UserDay } from "../contract.js" */

/** @param {import("../pages.js").PageContext} context */
export async function render(context) {
  const { main, params } = context;
  const bar = await controlBar(context, { provider: false });
  const u = await get("/user-insights", windowParams(params, { provider: false }));
  const churn = u.churnRisk;
  const s = u.sessionFigures;
  /** @param {number | null} seconds */
  const minutes = (seconds) => seconds === null ? num(null) : `${num(seconds / 60, 1)} min`;
  /** @param {UserDay} day */
  const segments = (day) => Object.entries(day.segments || {})
    .map(([name, s]) => `${name} ${num(s.users)} (${pct(s.share, 0)})`).join(", ");
  replace(main,
    h("h1", {}, "Users"),
    bar,
    h("p", { class: "muted" }, `${when(u.window.from)} – ${when(u.window.to)}`),
    h("div", { class: "tiles" },
      tile("Average daily active users", "averageDailyActiveUsers", num(u.totals.averageDailyActiveUsers, 1)),
      tile("7-day retention", null, pct(u.retention7?.rate), `cohort of ${num(u.retention7?.cohort)}`),
      tile("30-day retention", null, pct(u.retention30?.rate), `cohort of ${num(u.retention30?.cohort)}`),
      tile("Churn risk", null, num(churn?.users),
        `${pct(churn?.share)} of ${num(churn?.activeIn30Days)} active; ${num(churn?.premium)} premium`)),
    h("h2", {}, "By day"),
    table([
      { label: "Day", value: (d) => when(d.day).slice(0, 10) },
      { label: "Active users", value: (d) => num(d.activeUsers), num: true },
      { label: "Generations", value: (d) => num(d.generations), num: true },
      { label: "Per active user", value: (d) => num(d.generationsPerActiveUser, 2), num: true },
      { label: "Upgrades", value: (d) => num(d.upgraders), num: true },
      { label: "Segments", value: segments },
      { label: "Source", value: (d) => d.source },
    ], u.days, { empty: "No user activity in this window." }),
    h("h2", {}, "Sessions"),
    h("div", { class: "tiles" },
      tile("Sessions", "sessions.count", num(s.count),
        `${num(s.unended)} without an end; ${num(s.endsWithoutStart)} ends without a start`),
      tile("Median length", "sessions.median", minutes(s.durationSeconds.median), `of ${num(s.ended)} ended sessions`),
      tile("95th percentile length", "sessions.p95", minutes(s.durationSeconds.p95)),
      tile("Sessions per user", "sessions.perUser", num(s.perUser, 2), `${num(s.users)} users`)),
    s.coveredFrom !== u.window.from
      ? h("p", { class: "muted" }, `Sessions from ${when(s.coveredFrom)}: older raw events are not kept.`) : null,
    h("h2", {}, "When: generations by weekday and hour (UTC)"),
    heatmap("generations", u.heatmap.generations, u.heatmap.weekdays),
    h("h2", {}, "When: sessions by weekday and hour (UTC)"),
    heatmap("sessions", u.heatmap.sessions, u.heatmap.weekdays),
    h("h2", {}, "Weekly cohorts"),
    h("p", { class: "muted" }, u.cohorts
      ? `Users by the ISO week of their first activity (none in the ${u.cohorts.lookbackWeeks} weeks before), and the share active each week after, as of ${when(u.cohorts.asOf).slice(0, 10)}. * the week is not over.`
      : ""),
    cohortTable(u.cohorts));
}
