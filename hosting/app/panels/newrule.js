// @ts-check
// The new-rule form (admins): every field of a rule, the backtest of the rule as filled in shown
// before it is saved (POST /alert-rules/backtest), then POST /alert-rules. The API validates; its
// message appears next to the field it names.

import { post } from "../api.js";
import {
  CHANNELS, RULE_COMPARATORS, RULE_DIRECTIONS, RULE_KINDS, RULE_METRICS, RULE_NO_DATA, RULE_SCOPES,
  RULE_SHORT_WINDOWS, RULE_WINDOWS, SEVERITIES,
} from "../contract.js";
import { errorText, h, message, replace } from "../ui.js";

/** @typedef {import("./backtest.js").StoredRule} StoredRule */
/**
 * One input of the form: the rule's property, its label, its kind of input, its starting value
 * and, for fields of some kinds of rule only, which.
 * @typedef {{ name: string, label: string, type?: "number" | "text" | "checkbox", step?: string, options?: ReadonlyArray<string>, value?: unknown, kinds?: string, only?: (kind: string) => boolean }} Field
 */

/** @type {Field[]} */
const FIELDS = [
  { name: "ruleId", label: "Rule id (optional: chosen from the metric)", type: "text", value: "" },
  { name: "kind", label: "Kind", options: RULE_KINDS, value: "threshold" },
  { name: "metric", label: "Metric", options: RULE_METRICS, value: "successRate" },
  { name: "comparator", label: "Comparator (gt: above, lt: below)", options: RULE_COMPARATORS, value: "lt" },
  { name: "threshold", label: "Threshold", type: "number", step: "any", value: 0.9 },
  { name: "window", label: "Window", options: RULE_WINDOWS, value: "1h" },
  { name: "shortWindow", label: "Short window", options: RULE_SHORT_WINDOWS, value: "5m", kinds: "burn_rate", only: (k) => k === "burn_rate" },
  { name: "slo", label: "Objective (GET /slos)", type: "text", value: "", kinds: "burn_rate", only: (k) => k === "burn_rate" },
  { name: "severity", label: "Severity", options: SEVERITIES, value: "warning" },
  { name: "minSamples", label: "Minimum samples", type: "number", step: "1", value: 20 },
  { name: "pendingEvaluations", label: "Breaching runs before firing", type: "number", step: "1", value: 2 },
  { name: "resolveEvaluations", label: "Clear runs before resolving", type: "number", step: "1", value: 2 },
  { name: "hysteresis", label: "Hysteresis", type: "number", step: "any", value: 0 },
  { name: "confidence", label: "Confidence (rates)", type: "number", step: "any", value: 0.95 },
  { name: "repeatIntervalMinutes", label: "Repeat every (minutes; 0: never)", type: "number", step: "1", value: 240 },
  { name: "noData", label: "Without data", options: RULE_NO_DATA, value: "keep" },
  { name: "baselineDays", label: "Baseline days", type: "number", step: "1", value: 7, kinds: "anomaly and baseline", only: (k) => k === "anomaly" || k === "baseline" },
  { name: "minHistoryDays", label: "Days of history needed", type: "number", step: "1", value: 3, kinds: "anomaly and baseline", only: (k) => k === "anomaly" || k === "baseline" },
  { name: "zThreshold", label: "Robust z threshold", type: "number", step: "any", value: 3.5, kinds: "anomaly", only: (k) => k === "anomaly" },
  { name: "direction", label: "Direction", options: RULE_DIRECTIONS, value: "both", kinds: "anomaly", only: (k) => k === "anomaly" },
  { name: "description", label: "Description", type: "text", value: "" },
  { name: "enabled", label: "Enabled", type: "checkbox", value: true },
];

/**
 * Checkboxes of one list (scopes, channels), the ones in `chosen` ticked.
 * @param {string} name
 * @param {ReadonlyArray<string>} values
 * @param {ReadonlyArray<string>} chosen
 */
function boxes(name, values, chosen) {
  return values.map((v) => h("label", { style: "display:inline-flex;gap:4px;margin-right:12px;color:inherit" },
    h("input", { type: "checkbox", name, value: v, checked: chosen.includes(v) }), v));
}

/** @param {HTMLElement[]} labels */
const ticked = (labels) => labels.map((l) => l.querySelector("input")).filter((i) => i?.checked).map((i) => String(i?.value));

/**
 * The form; `onBacktest(body)` shows the replay of the rule as filled in, `onCreated(rule)` is
 * told of the stored rule, `onCancel` closes the form.
 * @param {{ onBacktest: (body: Record<string, unknown>) => void, onCreated: (rule: StoredRule) => void, onCancel: () => void }} hooks
 */
export function newRuleForm({ onBacktest, onCreated, onCancel }) {
  /** @type {Record<string, HTMLInputElement | HTMLSelectElement>} */
  const inputs = {};
  /** @type {Record<string, HTMLElement>} */
  const errors = {};
  const status = h("div", { "aria-live": "polite" });
  const fields = FIELDS.map((f) => {
    const id = `new-${f.name}`;
    let input;
    if (f.options) {
      input = h("select", { id, name: f.name }, f.options.map((o) => h("option", { value: o, selected: o === f.value }, o)));
    } else if (f.type === "checkbox") {
      input = h("input", { id, name: f.name, type: "checkbox", checked: Boolean(f.value) });
    } else {
      input = h("input", { id, name: f.name, type: f.type, step: f.step, value: String(f.value ?? "") });
    }
    inputs[f.name] = input;
    errors[f.name] = h("div", { class: "error", id: `${id}-error` });
    input.setAttribute("aria-describedby", `${id}-error`);
    const only = f.kinds ? h("span", { class: "muted" }, ` (${f.kinds} rules)`) : null;
    return h("div", { class: "field" }, h("label", { for: id }, f.label, only), input, errors[f.name]);
  });
  const scopes = boxes("scopes", RULE_SCOPES, ["overall"]);
  const channels = boxes("channels", CHANNELS, ["slack"]);
  const escalateAfter = h("input", { id: "new-escalate-after", type: "number", min: 1, step: 1, placeholder: "none", style: "width:7em" });
  const escalateTo = boxes("escalation", CHANNELS, []);
  const pauseBox = h("input", { id: "new-pause", type: "checkbox" });
  const cooldown = h("input", { id: "new-cooldown", type: "number", min: 1, max: 1440, step: 1, value: 15, style: "width:7em" });
  const probe = h("input", { id: "new-probe", type: "number", min: 0, max: 1, step: "0.05", value: 0.1, style: "width:7em" });
  for (const name of ["scopes", "channels", "escalation", "actions"]) errors[name] = h("div", { class: "error", id: `new-${name}-error` });
  inputs.scopes = /** @type {HTMLInputElement} */ (scopes[0].querySelector("input"));
  inputs.channels = /** @type {HTMLInputElement} */ (channels[0].querySelector("input"));
  inputs.escalation = escalateAfter;
  inputs.actions = pauseBox;

  /** The rule as filled in (fields of other kinds of rule left out: the API's defaults). */
  function body() {
    const kind = inputs.kind.value;
    /** @type {Record<string, unknown>} */
    const rule = {};
    for (const f of FIELDS) {
      if (f.only && !f.only(kind)) continue;
      const input = inputs[f.name];
      if (f.type === "checkbox") rule[f.name] = /** @type {HTMLInputElement} */ (input).checked;
      else if (f.type === "number") rule[f.name] = input.value === "" ? null : Number(input.value);
      else if (input.value !== "" || f.name === "description") rule[f.name] = input.value;
    }
    rule.scopes = ticked(scopes);
    rule.channels = ticked(channels);
    rule.escalation = escalateAfter.value === "" ? [] : [{ afterMinutes: Number(escalateAfter.value), channels: ticked(escalateTo) }];
    rule.actions = pauseBox.checked ? [{ type: "pause_provider", cooldownMinutes: Number(cooldown.value), probeShare: Number(probe.value) }] : [];
    return rule;
  }

  /**
   * @param {unknown} error
   * @param {string} title
   */
  function show(error, title) {
    const text = errorText(error);
    const field = text.split(":")[0].split(".")[0];
    if (errors[field]) {
      errors[field].textContent = text;
      inputs[field]?.setAttribute("aria-invalid", "true");
      inputs[field]?.focus();
    }
    replace(status, message("error", title, text));
  }

  function clear() {
    for (const [name, el] of Object.entries(errors)) {
      el.textContent = "";
      inputs[name]?.removeAttribute("aria-invalid");
    }
    replace(status);
  }

  const form = h("form", { class: "panel", novalidate: true, "aria-label": "New rule", onsubmit: async (/** @type {SubmitEvent} */ event) => {
    event.preventDefault();
    clear();
    try {
      const created = await post("/alert-rules", {}, body());
      onCreated(/** @type {StoredRule} */ (created.rule));
    } catch (error) {
      show(error, "Not created.");
    }
  } },
  h("h2", { style: "margin-top:0" }, "New rule"),
  h("p", { class: "muted" }, "Backtest the rule as filled in before creating it; nothing is saved until you create it."),
  fields,
  h("fieldset", {}, h("legend", {}, "Scopes"), scopes, errors.scopes),
  h("fieldset", {}, h("legend", {}, "Channels"), channels, errors.channels),
  h("fieldset", {}, h("legend", {}, "Escalation (unacknowledged this long: tell these channels too)"),
    h("div", { class: "field" }, h("label", { for: "new-escalate-after" }, "After (minutes)"), escalateAfter),
    escalateTo, errors.escalation),
  h("fieldset", {}, h("legend", {}, "Automated response"),
    h("label", { for: "new-pause", style: "display:inline-flex;gap:4px;color:inherit" }, pauseBox,
      "Pause the provider while this rule fires for it (needs the provider scope)"),
    h("div", { class: "actions" },
      h("div", { class: "field" }, h("label", { for: "new-cooldown" }, "Cooldown (minutes) before probing"), cooldown),
      h("div", { class: "field" }, h("label", { for: "new-probe" }, "Probe share (0 to 1)"), probe)),
    errors.actions),
  h("div", { class: "actions" },
    h("button", { type: "button", onclick: () => { clear(); onBacktest(body()); } }, "Backtest"),
    h("button", { class: "primary", type: "submit" }, "Create rule"),
    h("button", { type: "button", onclick: onCancel }, "Cancel")),
  status);
  return { form, focus: () => inputs.ruleId.focus(), setThreshold: (/** @type {number} */ value) => {
    inputs.threshold.value = String(value);
    inputs.threshold.focus();
  } };
}
