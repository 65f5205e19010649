// @ts-check
// A provider's traffic control (provider_controls): its state and weight, why, since when and
// by whom, and for admins Pause / Release with a reason.

import { post } from "../api.js";
import { badge, errorText, h, message, pct, replace, when } from "../ui.js";

/** @import { ControlState, ProviderControl } from "../contract.js" */

/** @type {Record<ControlState, string>} */
const STATES = { closed: "full traffic", open: "paused", half_open: "probing" };

/** @param {ProviderControl | null | undefined} control */
export function controlBadge(control) {
  const state = control?.state || "closed";
  return badge(`ctl-${state}`, `${STATES[state]} · ${pct(control ? control.weight : 1, 0)}`);
}

/**
 * `onChange(control)` is called after an admin's action succeeds.
 * @param {string} provider
 * @param {ProviderControl | null | undefined} control
 * @param {boolean} isAdmin
 * @param {(control: ProviderControl) => Promise<void>} onChange
 */
export function controlPanel(provider, control, isAdmin, onChange) {
  if (provider === "other") {
    // `other` sums the providers outside TRACKED_PROVIDERS: the API refuses to pause it.
    return h("section", { class: "panel", "aria-label": `Traffic to ${provider}` },
      h("h2", { style: "margin-top:0" }, `Traffic to ${provider}`),
      h("p", { class: "muted" }, "The providers outside TRACKED_PROVIDERS, counted together: no single provider to pause."));
  }
  const notice = h("div", { "aria-live": "polite", tabindex: -1 });
  const reason = h("input", { id: `control-reason-${provider}`, type: "text", maxlength: 500, placeholder: "why" });
  /** @param {"pause" | "release"} action */
  const act = (action) => async (/** @type {Event} */ event) => {
    const button = /** @type {HTMLButtonElement} */ (event.currentTarget);
    button.disabled = true;
    try {
      const body = reason.value ? { reason: reason.value } : {};
      const result = await post(`/provider-controls/{provider}/${action}`, { provider }, body);
      onChange(result.control);
    } catch (error) {
      replace(notice, message("error", `Could not ${action} ${provider}.`, errorText(error)));
      notice.focus();
      button.disabled = false;
    }
  };
  const c = control;
  return h("section", { class: "panel", "aria-label": `Traffic to ${provider}` },
    h("h2", { style: "margin-top:0" }, `Traffic to ${provider}`),
    h("p", {}, controlBadge(c), c?.manual ? h("span", { class: "muted" }, " held by an admin") : null),
    c ? h("dl", { class: "kv" },
      h("dt", {}, "Why"), h("dd", { "data-figure": "control.reason" }, c.reason || "–"),
      h("dt", {}, "Since"), h("dd", {}, when(c.since)),
      c.until ? [h("dt", {}, c.state === "open" && !c.manual ? "Probing from" : "Until"), h("dd", {}, when(c.until))] : null,
      h("dt", {}, "By"), h("dd", {}, c.by),
      c.blocked ? [h("dt", {}, "Pause blocked"), h("dd", {}, c.blocked)] : null)
      : h("p", { class: "muted" }, "No control: the generation service sends its usual traffic."),
    notice,
    isAdmin ? h("div", { class: "actions" },
      h("div", { class: "field" }, h("label", { for: `control-reason-${provider}` }, "Reason"), reason),
      h("button", { type: "button", disabled: c?.state === "open", onclick: act("pause") }, `Pause ${provider}`),
      h("button", { type: "button", disabled: !c || c.state === "closed", onclick: act("release") }, `Release ${provider}`)) : null);
}
