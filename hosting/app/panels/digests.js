// @ts-check
// The caller's digest subscription (GET|PUT /me/digests): the daily and weekly email, opted in
// or out; shown on the Digests page and on Exports.

import { put } from "../api.js";
import { errorText, h, message, replace } from "../ui.js";

/** @import { GetResponses } from "../contract.js" */

/**
 * Digests: the caller opts in to the daily and weekly email, and sees what last week's said.
 * @param {GetResponses["/me/digests"]} choice
 * @param {GetResponses["/digest"] | null} [weekly] last week's digest, for its recommendations
 */
export function digests(choice, weekly = null) {
  const status = h("div", { "aria-live": "polite" });
  /**
   * @param {"daily" | "weekly"} name
   * @param {string} label
   */
  const box = (name, label) => h("label", { style: "display:flex;gap:6px;align-items:center;color:inherit" },
    h("input", { type: "checkbox", name, checked: choice[name] }), label);
  const daily = box("daily", "Email me the daily digest (after 07:00 UTC)");
  const weeklyBox = box("weekly", "Email me the weekly digest (Mondays after 07:00 UTC)");
  /** @param {HTMLElement} label */
  const checked = (label) => Boolean(label.querySelector("input")?.checked);
  const form = h("form", { class: "panel", style: "margin-top:16px", "aria-label": "Digests", onsubmit: async (/** @type {SubmitEvent} */ event) => {
    event.preventDefault();
    const body = { daily: checked(daily), weekly: checked(weeklyBox) };
    try {
      const saved = await put("/me/digests", {}, body);
      replace(status, message("notice", saved.daily || saved.weekly ? `Digests go to ${saved.email}.` : "No digests."));
    } catch (error) {
      replace(status, message("error", "Not saved.", errorText(error)));
    }
  } },
  h("h2", { style: "margin-top:0" }, "Digests"),
  h("p", { class: "muted" }, "A summary without being paged: figures against targets and the previous period, regressions by provider, alerts with their time to acknowledge and resolve, and recommendations."),
  daily, weeklyBox,
  h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, "Save digests")),
  status,
  weekly ? h("h3", {}, `Last week's recommendations (${weekly.period.key})`) : null,
  !weekly ? null : weekly.recommendations.length
    ? h("ol", { "data-figure": "digest.recommendations" }, weekly.recommendations.map((r) =>
      h("li", {}, h("strong", {}, r.title), h("div", { class: "muted" }, r.text))))
    : h("p", { class: "muted", "data-figure": "digest.recommendations" }, "None: nothing to change last week."));
  return form;
}
