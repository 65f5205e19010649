// @ts-check
// The backtest panel beside a rule: replay the rule (or another threshold) over the stored runs of
// a window, see when it would have fired and resolved, and ask for the threshold that keeps it
// within a number of pages a week.

import { get, post } from "../api.js";
import { BACKTEST_WINDOWS, BACKTEST_WINDOWS_DEFAULT } from "../contract.js";
import { h, message, num, replace, when } from "../ui.js";
import { formatValue } from "./alerts.js";
import { WINDOW_LABELS } from "./controls.js";
import { table } from "./table.js";

/** @import { AlertRule, Backtest } from "../contract.js" */
/**
 * A rule as GET /alert-rules lists it: stored rules carry every field (the API fills defaults).
 * @typedef {AlertRule & Required<Pick<AlertRule, "ruleId" | "kind" | "comparator" | "window" | "scopes" | "severity" | "channels" | "enabled">>} StoredRule
 */
/** @typedef {(value: number) => void} UseThreshold */

/** @param {number | null} n */
const times = (n) => (n === 1 ? "once" : `${num(n)} times`);

/**
 * @param {string} from
 * @param {string | null} to
 */
function duration(from, to) {
  if (!to) return "still firing";
  const minutes = Math.round((Date.parse(to) - Date.parse(from)) / 60000);
  return minutes < 120 ? `${minutes} min` : `${(minutes / 60).toFixed(1)} h`;
}

/**
 * `useThreshold(value)`, when given, offers to put a suggested threshold into the rule editor;
 * `draft`, when given, is a rule not saved yet (the new-rule form's body), replayed by
 * POST /alert-rules/backtest instead of the stored rule.
 * @param {StoredRule} rule
 * @param {UseThreshold} [useThreshold]
 * @param {Record<string, unknown>} [draft]
 */
export function backtestPanel(rule, useThreshold, draft) {
  /** @param {string} name */
  const id = (name) => `backtest-${name}`;
  const windowSelect = h("select", { id: id("window") },
    BACKTEST_WINDOWS.map((value) => h("option", { value, selected: value === BACKTEST_WINDOWS_DEFAULT }, WINDOW_LABELS[value])));
  const threshold = h("input", { id: id("threshold"), type: "number", step: "any", value: rule.threshold, style: "width:8em" });
  const pages = h("input", { id: id("pages"), type: "number", min: 0, step: "any", placeholder: "optional", style: "width:7em" });
  const output = h("div", { "aria-live": "polite" });
  /** @param {SubmitEvent} event */
  const run = async (event) => {
    event.preventDefault();
    /** @type {Record<string, string>} */
    const params = draft ? { window: windowSelect.value } : { ruleId: rule.ruleId, window: windowSelect.value };
    if (threshold.value !== "" && Number(threshold.value) !== rule.threshold) params.threshold = threshold.value;
    if (pages.value !== "") params.pagesPerWeek = pages.value;
    replace(output, h("p", { class: "muted" }, "Replaying…"));
    try {
      const result = draft
        ? await post("/alert-rules/backtest", params, draft)
        : await get("/alert-rules/{ruleId}/backtest", params);
      replace(output, describe(rule, result, useThreshold));
    } catch (error) {
      replace(output, message("error", "The backtest did not run.", error instanceof Error ? error.message : String(error)));
    }
  };
  return h("form", { class: "panel", "aria-label": draft ? "Backtest the new rule" : `Backtest ${rule.ruleId}`, onsubmit: run },
    h("h2", { style: "margin-top:0" }, draft ? "Backtest the new rule" : `Backtest ${rule.ruleId}`),
    h("p", { class: "muted" }, "Replays the rule over what each scheduled run measured, with the same code the live alerts use (nothing is saved)."),
    h("div", { class: "actions" },
      h("div", { class: "field" }, h("label", { for: id("window") }, "Window"), windowSelect),
      h("div", { class: "field" }, h("label", { for: id("threshold") }, "Threshold"), threshold),
      h("div", { class: "field" }, h("label", { for: id("pages") }, "Pages a week at most"), pages),
      h("button", { class: "primary", type: "submit" }, "Run backtest")),
    output);
}

/**
 * @param {StoredRule} rule
 * @param {Backtest} result
 * @param {UseThreshold} [useThreshold]
 */
function describe(rule, result, useThreshold) {
  const summary = h("p", { "data-figure": "backtest.summary" },
    `${num(result.runs)} runs (${num(result.evaluations)} evaluations) from ${when(result.window.from)} to ${when(result.window.to)}: `,
    h("strong", {}, `would have fired ${times(result.firings)}`),
    ` (${num(result.firingsPerWeek, 1)} a week) at threshold ${formatValue(rule.metric, result.threshold)}, sending ${num(result.notifications)} messages.`,
    result.source && result.source !== "firestore" ? ` Runs older than Firestore keeps were read from BigQuery.` : "",
    result.unmeasured ? ` ${num(result.unmeasured)} evaluations had no stored measurement.` : "");
  const episodes = table([
    { label: "Scope", value: (e) => e.scope },
    { label: "Fired", value: (e) => when(e.from) },
    { label: "Resolved", value: (e) => when(e.to) },
    { label: "Lasted", value: (e) => duration(e.from, e.to) },
    { label: "Value when fired", value: (e) => formatValue(rule.metric, e.value), num: true },
  ], result.episodes, { label: "Backtest episodes", empty: "It would not have fired." });
  const suggestion = result.suggestion ? suggested(rule, result.suggestion, useThreshold) : null;
  return [summary, suggestion, episodes];
}

/**
 * @param {StoredRule} rule
 * @param {NonNullable<Backtest["suggestion"]>} s
 * @param {UseThreshold} [useThreshold]
 */
function suggested(rule, s, useThreshold) {
  const threshold = s.threshold;
  if (threshold === null) {
    return message("notice", `No threshold keeps ${rule.ruleId} within ${s.pagesPerWeek} pages a week in this window.`);
  }
  const missed = s.missed.length
    ? `It would have missed ${s.missed.length} of these episodes (${s.missed.map((e) => `${e.scope} at ${when(e.from)}`).join("; ")}).`
    : "It misses none of these episodes.";
  return message("notice",
    `At most ${s.pagesPerWeek} pages a week: threshold ${formatValue(rule.metric, threshold)} (fires ${times(s.firings)}, ${num(s.firingsPerWeek, 1)} a week).`,
    h("div", {}, missed),
    useThreshold ? h("button", { type: "button", onclick: () => useThreshold(threshold) }, "Use this threshold in the editor") : null);
}
