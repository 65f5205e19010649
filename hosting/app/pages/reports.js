// @ts-check
// Reports: the monthly and quarterly reviews (GET /reports, a PDF each) of the last whole
// months and quarters, and the caller's choice to get them by email on the first day of the next
// period. The list is computed here from the UTC calendar: every whole period the API can draw
// (older ones come from BigQuery), so the page needs no call of its own to show it.

import { downloadReview, get, put } from "../api.js";
import { errorText, h, message, num, replace } from "../ui.js";

/** @import { GetResponses } from "../contract.js" */

export const MONTHS_LISTED = 12;
export const QUARTERS_LISTED = 8;
const MONTH_NAMES = ["January", "February", "March", "April", "May", "June", "July", "August",
  "September", "October", "November", "December"];

/**
 * A review period: its kind, first day (the API's `from`), the day it ends (exclusive) and label.
 * @typedef {{ kind: "monthly" | "quarterly", from: string, to: string, label: string }} ReviewPeriod
 */

/** @param {number} year @param {number} month 0-based, may overflow */
function firstDay(year, month) {
  return new Date(Date.UTC(year, month, 1)).toISOString().slice(0, 10);
}

/**
 * The last `count` whole months or quarters before `now` (UTC), newest first.
 * @param {"monthly" | "quarterly"} kind
 * @param {Date} now
 * @param {number} count
 * @returns {ReviewPeriod[]}
 */
export function reviewPeriods(kind, now, count) {
  const step = kind === "monthly" ? 1 : 3;
  const month = now.getUTCMonth();
  const current = month - (month % step); // the period now running starts here
  const year = now.getUTCFullYear();
  /** @type {ReviewPeriod[]} */
  const periods = [];
  for (let i = 1; i <= count; i += 1) {
    const start = new Date(Date.UTC(year, current - i * step, 1));
    const [y, m] = [start.getUTCFullYear(), start.getUTCMonth()];
    const label = kind === "monthly" ? `${MONTH_NAMES[m]} ${y}` : `${y} Q${m / 3 + 1}`;
    periods.push({ kind, from: firstDay(y, m), to: firstDay(y, m + step), label });
  }
  return periods;
}

/** @param {import("../pages.js").PageContext} context */
export async function render(context) {
  const { main } = context;
  const choice = await get("/me/digests");
  const status = h("div", { "aria-live": "polite", id: "reports-status" });
  const now = new Date();
  replace(main,
    h("h1", {}, "Reports"),
    h("p", { class: "muted" }, "Each review is a PDF of a whole UTC month or quarter: headline figures (generations, success rate, p95 time, cost, cost per output second, quality) against their targets and the period before, daily charts, the providers, the objectives' error budgets, the alerts with their times to acknowledge and resolve, and recommendations. Periods older than the dashboards' aggregates are read from BigQuery, which takes longer."),
    status,
    listing("Monthly reviews", reviewPeriods("monthly", now, MONTHS_LISTED), status),
    listing("Quarterly reviews", reviewPeriods("quarterly", now, QUARTERS_LISTED), status),
    subscription(choice));
}

/**
 * One kind's periods, newest first, each with its download button.
 * @param {string} title
 * @param {ReviewPeriod[]} periods
 * @param {HTMLElement} status
 */
function listing(title, periods, status) {
  const id = `reviews-${periods[0]?.kind ?? "none"}`;
  return h("section", { class: "panel", "aria-labelledby": id, style: "margin-top:16px" },
    h("h2", { id }, title),
    // Scrolls sideways inside the panel on a narrow screen, as the other pages' tables do.
    h("div", { class: "table-wrap", tabindex: 0, role: "region", "aria-label": `Table: ${title}` }, h("table", { "data-reviews": periods[0]?.kind ?? "" },
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Period"), h("th", { scope: "col" }, "From"),
        h("th", { scope: "col" }, "To (exclusive)"), h("th", { scope: "col" }, "PDF"))),
      h("tbody", {}, periods.map((period) => h("tr", { "data-from": period.from },
        h("td", {}, period.label), h("td", {}, period.from), h("td", {}, period.to),
        h("td", {}, h("button", {
          type: "button",
          "aria-label": `Download the review of ${period.label}`,
          onclick: (/** @type {Event} */ event) => fetchReview(period, /** @type {HTMLButtonElement} */ (event.currentTarget), status),
        }, "Download PDF"))))))));
}

/**
 * Draws and saves one review, saying how it went.
 * @param {ReviewPeriod} period
 * @param {HTMLButtonElement} button
 * @param {HTMLElement} status
 */
async function fetchReview(period, button, status) {
  button.disabled = true;
  replace(status, h("p", { class: "muted" }, `Preparing the review of ${period.label}…`));
  try {
    const file = await downloadReview({ period: period.kind, from: period.from });
    replace(status, message("notice", `Downloaded ${file.name} (${num(file.bytes)} bytes).`));
  } catch (error) {
    replace(status, message("error", `The review of ${period.label} failed.`, errorText(error)));
  } finally {
    button.disabled = false;
  }
}

/**
 * The caller's choice of reviews by email (the digests are chosen on the Digests and Exports pages).
 * @param {GetResponses["/me/digests"]} choice
 */
function subscription(choice) {
  const saved = h("div", { "aria-live": "polite" });
  /** @param {"monthly" | "quarterly"} name @param {string} label */
  const box = (name, label) => h("label", { style: "display:flex;gap:6px;align-items:center;color:inherit" },
    h("input", { type: "checkbox", name, checked: choice[name] }), label);
  const monthly = box("monthly", "Email me the monthly review (the 1st of each month, after 07:00 UTC)");
  const quarterly = box("quarterly", "Email me the quarterly review (1 January, April, July and October, after 07:00 UTC)");
  /** @param {HTMLElement} label */
  const checked = (label) => Boolean(label.querySelector("input")?.checked);
  return h("form", { class: "panel", style: "margin-top:16px", "aria-label": "Reviews by email", onsubmit: async (/** @type {SubmitEvent} */ event) => {
    event.preventDefault();
    try {
      const now = await put("/me/digests", {}, { monthly: checked(monthly), quarterly: checked(quarterly) });
      replace(saved, message("notice", now.monthly || now.quarterly ? `Reviews go to ${now.email} as a PDF attachment.` : "No reviews by email."));
    } catch (error) {
      replace(saved, message("error", "Not saved.", errorText(error)));
    }
  } },
  h("h2", {}, "Reviews by email"),
  monthly, quarterly,
  h("div", { class: "actions" }, h("button", { type: "submit" }, "Save")),
  saved);
}
