// @ts-check
// A weekday x hour heatmap (UTC) and a weekly cohort retention table, both as tables.

import { h, num, pct, when } from "../ui.js";
import { table } from "./table.js";

/** @import { CohortTable } from "../contract.js" */
/** @typedef {NonNullable<CohortTable>["rows"][number]} CohortRow */

const HOURS = Array.from({ length: 24 }, (_, hour) => hour);

/**
 * A cell shaded by its share of the largest count (through the CSSOM: the CSP refuses style
 * markup); the figure stays as text, so the table reads without the colour.
 * @param {number} share 0..1
 * @param {string} figure the element's data-heat
 * @param {import("../ui.js").Child} text
 */
function shaded(share, figure, text) {
  const mix = Math.round(share * 45);
  return h("span", {
    class: "heat", "data-heat": figure,
    style: `background: color-mix(in srgb, var(--chart-1) ${mix}%, var(--panel))`,
  }, text);
}

/**
 * @param {string} name what is counted (`generations` or `sessions`)
 * @param {number[][]} grid 7 rows (Monday first) of 24 hourly counts
 * @param {string[]} weekdays the rows' names
 */
export function heatmap(name, grid, weekdays) {
  const top = Math.max(1, ...grid.flat());
  const rows = grid.map((counts, day) => ({ day: weekdays[day], counts }));
  return table([
    { label: "Day (UTC)", value: (r) => h("span", { class: "heat-day" }, r.day) },
    ...HOURS.map((hour) => ({
      label: String(hour).padStart(2, "0"),
      num: true,
      /** @param {{ day: string, counts: number[] }} r */
      value: (r) => shaded(r.counts[hour] / top, `${name}.${r.day}.${hour}`, num(r.counts[hour])),
    })),
  ], rows, { label: `${name} by UTC weekday and hour` });
}

/** @param {CohortTable} cohorts */
export function cohortTable(cohorts) {
  if (!cohorts) return h("p", { class: "muted" }, "No daily snapshot in this window yet: the cohort table is computed with it.");
  const offsets = Array.from({ length: Math.max(0, ...cohorts.rows.map((r) => r.weeks.length)) }, (_, k) => k);
  return table([
    { label: "Cohort week", value: (r) => when(r.week).slice(0, 10) },
    { label: "Users", value: (r) => h("span", { "data-cohort": `${r.week}.users` }, num(r.users)), num: true },
    ...offsets.map((offset) => ({
      label: offset === 0 ? "Week 0" : `+${offset}`,
      num: true,
      /** @param {CohortRow} r */
      value: (r) => {
        const cell = r.weeks[offset];
        if (!cell) return "";
        const text = `${pct(cell.share, 0)}${cell.partial && cell.share !== null ? "*" : ""}`;
        return shaded(cell.share ?? 0, `cohort.${r.week}.${offset}`, text);
      },
    })),
  ], cohorts.rows, { label: "weekly cohort retention", empty: "No cohort weeks." });
}
