// @ts-check
// A provider's capacity: its 14-day peak-hour demand forecast against the 80% line, and for
// admins the form that replaces its three limits (PUT /capacity/{provider}).

import { put } from "../api.js";
import { errorText, h, message, num, pct, replace, usd } from "../ui.js";
import { TimeChart } from "./charts.js";

/** @import { GetResponses } from "../contract.js" */
/** @typedef {GetResponses["/capacity"]["providers"][number]} CapacityRow */

/** @type {Record<string, string>} */
const MODELS = {
  "trend+hour-of-week": "trend and hour-of-week profile",
  "hour-of-day": "hour-of-day profile, no trend (under two weeks of history)",
  none: "no forecast (under one whole day of history)",
};

/**
 * The forecast chart: observed daily peaks, forecast daily peaks and 80% of the hourly capacity.
 * @param {CapacityRow} row
 */
export function forecastChart(row) {
  const f = row.forecast;
  const chart = new TimeChart({ title: `${row.provider}: busiest hour per day (generations per hour)`, unit: "count", height: 180 });
  const x = [...f.observed.map((d) => d.date), ...f.days.map((d) => d.date)];
  const pad = (/** @type {number} */ n) => new Array(n).fill(null);
  const line = f.capacityPerHour === null ? null : 0.8 * f.capacityPerHour;
  const crossing = f.crosses80At ? `reaches 80% of capacity on ${f.crosses80At}` : "stays under 80% of capacity for 14 days";
  chart.update({
    x,
    lines: [
      { label: "observed", values: [...f.observed.map((d) => d.peakPerHour), ...pad(f.days.length)] },
      { label: "forecast", values: [...pad(f.observed.length), ...f.days.map((d) => d.peakPerHour)], dash: [6, 4] },
    ],
    threshold: line,
    summary: f.model === "none" ? MODELS.none
      : `Model: ${MODELS[f.model] || f.model}, fitted on ${f.historyDays} days. ` +
        (line === null ? "No capacity known (set maxConcurrent or maxPerMinute)." : `80% of ${num(f.capacityPerHour, 1)}/h is ${num(line, 1)}/h (limited by ${f.limitedBy}); the forecast ${crossing}.`),
  });
  chart.el.dataset.provider = row.provider;
  return chart.el;
}

/**
 * A number field of the limits form: empty means unknown (null).
 * @param {string} provider
 * @param {string} key
 * @param {string} label
 * @param {number | null} value
 * @param {string} step
 */
function field(provider, key, label, value, step) {
  const id = `capacity-${key}-${provider}`;
  const input = h("input", { id, name: key, type: "number", min: 0, step, value: value ?? "", placeholder: "unknown" });
  return { key, input, el: h("div", { class: "field" }, h("label", { for: id }, label), input) };
}

/**
 * The admins' form for one provider's limits; `onSaved(notice)` runs after the API stored them.
 * @param {CapacityRow} row
 * @param {(notice: string) => Promise<void>} onSaved
 */
export function limitsForm(row, onSaved) {
  const p = row.provider;
  const notice = h("div", { "aria-live": "polite", tabindex: -1 });
  const fields = [
    field(p, "maxConcurrent", "Max concurrent", row.maxConcurrent, "1"),
    field(p, "maxPerMinute", "Max per minute", row.maxPerMinute, "1"),
    field(p, "monthlyBudgetUsd", "Monthly budget (USD)", row.monthlyBudgetUsd, "0.01"),
  ];
  /** @param {SubmitEvent} event */
  const submit = async (event) => {
    event.preventDefault();
    /** @type {Record<string, number | string | null>} */
    const body = {};
    for (const { key, input } of fields) {
      input.removeAttribute("aria-invalid");
      // What was typed goes to the API as a number (or null when empty): the API names any bad one.
      body[key] = input.value.trim() === "" ? null : Number(input.value);
    }
    try {
      await put("/capacity/{provider}", { provider: p }, body);
      await onSaved(`Saved ${p}'s limits.`);
    } catch (error) {
      const text = errorText(error);
      const bad = fields.find((f) => text.startsWith(`${f.key}:`));
      if (bad) bad.input.setAttribute("aria-invalid", "true");
      replace(notice, message("error", `Could not save ${p}'s limits.`, text));
      notice.focus();
    }
  };
  return h("form", { class: "actions", "aria-label": `Limits of ${p}`, onsubmit: submit },
    fields.map((f) => f.el),
    h("button", { type: "submit" }, `Save ${p}'s limits`),
    notice);
}

/**
 * One provider's panel: limits now, the month's spend, the forecast chart and (admins) the form.
 * @param {CapacityRow} row
 * @param {boolean} isAdmin
 * @param {(notice: string) => Promise<void>} onSaved
 */
export function capacityPanel(row, isAdmin, onSaved) {
  const p = row.provider;
  const f = row.forecast;
  /** @param {string} name @param {string} text */
  const fig = (name, text) => h("dd", { "data-capacity-figure": `${p}.${name}` }, text);
  return h("section", { class: "panel", "aria-label": `Capacity of ${p}` },
    h("h2", { style: "margin-top:0" }, p),
    h("dl", { class: "kv" },
      h("dt", {}, "Month to date"), fig("monthToDateUsd", usd(row.monthToDateUsd)),
      h("dt", {}, "Forecast to month end"), fig("forecastMonthUsd", usd(row.forecastMonthUsd)),
      h("dt", {}, "Budget"), fig("monthlyBudgetUsd", usd(row.monthlyBudgetUsd)),
      h("dt", {}, "Forecast share of budget"), fig("budgetForecastShare", pct(row.budgetForecastShare, 1)),
      h("dt", {}, "Capacity per hour"), fig("capacityPerHour", num(f.capacityPerHour, 1)),
      h("dt", {}, "Headroom at the forecast peak"), fig("headroom", pct(f.headroom, 1)),
      h("dt", {}, "Reaches 80%"), fig("crosses80At", f.crosses80At || (f.capacityPerHour === null ? "–" : "not within 14 days"))),
    f.model === "none" ? h("p", { class: "muted" }, "No forecast yet: less than one whole day of history.") : forecastChart(row),
    isAdmin ? limitsForm(row, onSaved) : null);
}
