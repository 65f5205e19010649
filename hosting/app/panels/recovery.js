// @ts-check
// Error recovery (GET /recovery): the recovery rate, failures per error code over time, retryable
// against permanent failures, and the fallback matrix. Shown on the Quality page.

import { TimeChart } from "./charts.js";
import { table } from "./table.js";
import { tile } from "./tiles.js";
import { h, num, pct } from "../ui.js";

/** @import { GetResponses } from "../contract.js" */
/** @typedef {GetResponses["/recovery"]} Recovery */

// One colour per charted code (8 top codes and `other`), told apart without relying on hue alone:
// every other line is dashed.
const CODE_COLOURS = ["#2457c5", "#b4490a", "#6b3fb0", "#117a65", "#b42318", "#7a6300", "#0b7285",
  "#a61e4d", "#5c5f66"];

/**
 * The recovery section of the Quality page, drawn from one /recovery answer.
 * @param {Recovery} body
 * @returns {HTMLElement[]}
 */
export function recoveryPanel(body) {
  const { recovery, errors } = body;
  const codes = [...errors.topCodes, "other"];
  const x = body.errorSeries.map((p) => p.start);
  const byCode = new TimeChart({ title: `Failures per error code per ${body.granularity}`, unit: "count" });
  byCode.update({
    x,
    lines: codes.map((code, i) => ({
      label: code, color: CODE_COLOURS[i % CODE_COLOURS.length], dash: i % 2 ? [5, 3] : undefined,
      values: body.errorSeries.map((p) => p.codes[code] ?? 0),
    })),
    summary: `${num(errors.failed)} failures; the window's ${errors.topCodes.length} most frequent codes, the rest as other`,
  });
  const byClass = new TimeChart({ title: `Retryable and permanent failures per ${body.granularity}`, unit: "count" });
  byClass.update({
    x,
    lines: [
      { label: "retryable", values: body.errorSeries.map((p) => p.retryable) },
      { label: "permanent", values: body.errorSeries.map((p) => p.permanent), dash: [5, 3] },
    ],
    summary: "classed by the ERROR_CLASSES table, else by each failure's own retryable flag",
  });
  return [
    h("h2", {}, "Error recovery"),
    h("div", { class: "tiles" },
      tile("Recovery rate", "recovery.rate", pct(recovery.rate, 1),
        `${num(recovery.recovered)} of ${num(recovery.attempted)} retried or taken over completed`),
      tile("Retryable failures", "errors.retryableShare", pct(errors.retryableShare, 1),
        `${num(errors.retryable)} retryable, ${num(errors.permanent)} permanent of ${num(errors.failed)}`),
      tile("Failures", "errors.failed", num(errors.failed), `${num(errors.unclassified)} unclassified`)),
    h("div", { class: "charts" }, byCode.el, byClass.el),
    h("h3", {}, "Error codes"),
    table([
      { label: "Code", value: (c) => c.code },
      { label: "Failures", value: (c) => num(c.failed), num: true },
      { label: "Retryable", value: (c) => num(c.retryable), num: true },
      { label: "Permanent", value: (c) => num(c.permanent), num: true },
      { label: "Classed by", value: (c) => c.classifiedBy },
    ], errors.codes, { label: "Error codes", empty: "No failure in this window." }),
    h("h3", {}, "Fallback matrix"),
    table([
      { label: "From", value: (f) => f.from },
      { label: "To", value: (f) => f.to },
      { label: "Completed", value: (f) => num(f.completed), num: true },
      { label: "Failed", value: (f) => num(f.failed), num: true },
      { label: "Recovered", value: (f) => pct(f.recoveryRate, 1), num: true },
    ], body.fallbacks, { label: "Fallback matrix", empty: "No generation was taken over in this window." }),
  ];
}
