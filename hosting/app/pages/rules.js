// @ts-check
// Rules: every alert rule; admins edit one at a time (the API's validation error appears next to
// the field it names), create one after backtesting it, and delete custom ones after confirming.

import { del, get, put } from "../api.js";
import {
  CHANNELS, RULE_COMPARATORS, RULE_SHORT_WINDOWS, RULE_WINDOWS_BURN_RATE, RULE_WINDOWS_STORED, SEVERITIES,
} from "../contract.js";
import { comparator, formatValue } from "../panels/alerts.js";
import { backtestPanel } from "../panels/backtest.js";
import { newRuleForm } from "../panels/newrule.js";
import { table } from "../panels/table.js";
import { badge, errorText, h, message, replace } from "../ui.js";

/** @import { AlertRule } from "../contract.js" */
/** @typedef {import("../panels/backtest.js").StoredRule} StoredRule */
/**
 * A field of the rule editor: the rule's property, its label, and its input (a number, text or
 * checkbox, or a choice of options), shown only for the rules `only` accepts.
 * @typedef {object} Field
 * @property {keyof AlertRule} name
 * @property {string} label
 * @property {"number" | "text" | "checkbox"} [type]
 * @property {string} [step]
 * @property {(rule: StoredRule) => ReadonlyArray<string>} [options]
 * @property {(rule: StoredRule) => boolean} [only]
 */

/** @type {Field[]} */
const EDITABLE = [
  { name: "threshold", label: "Threshold", type: "number", step: "any" },
  { name: "comparator", label: "Comparator", options: () => RULE_COMPARATORS },
  // Burn-rate rules judge a pair of windows (the long one and the short one).
  { name: "window", label: "Window", options: (r) => (r.kind === "burn_rate" ? RULE_WINDOWS_BURN_RATE : RULE_WINDOWS_STORED) },
  { name: "shortWindow", label: "Short window", options: () => RULE_SHORT_WINDOWS, only: (r) => r.kind === "burn_rate" },
  { name: "severity", label: "Severity", options: () => SEVERITIES },
  { name: "minSamples", label: "Minimum samples", type: "number", step: "1" },
  { name: "pendingEvaluations", label: "Breaching runs before firing", type: "number", step: "1" },
  { name: "resolveEvaluations", label: "Clear runs before resolving", type: "number", step: "1" },
  { name: "repeatIntervalMinutes", label: "Repeat every (minutes)", type: "number", step: "1" },
  { name: "description", label: "Description", type: "text" },
  { name: "enabled", label: "Enabled", type: "checkbox" },
];
/** @param {StoredRule} r */
function pauseText(r) {
  const action = (r.actions || []).find((a) => a.type === "pause_provider");
  if (!action) return "notify";
  return `notify; pause the provider (probe ${Math.round((action.probeShare ?? 0) * 100)}% after ${action.cooldownMinutes} min)`;
}

/** @param {StoredRule} r */
function condition(r) {
  if (r.kind === "baseline") {
    const share = r.comparator === "lt" ? 1 - r.threshold : 1 + r.threshold;
    return `${r.metric} over ${r.window} ${comparator(r.comparator)} ${Math.round(share * 100)}% of the same time on previous days (median of up to ${r.baselineDays})`;
  }
  if (r.kind === "burn_rate") {
    return `error budget of ${r.slo} burning over ${r.threshold}× both over ${r.window} and over ${r.shortWindow}`;
  }
  if (r.kind === "anomaly") {
    return `${r.metric} over ${r.window}: robust z beyond ${r.zThreshold} (${r.direction}) against the same hour on previous days`;
  }
  return `${r.metric} ${comparator(r.comparator)} ${formatValue(r.metric, r.threshold)} over ${r.window}`;
}

/** @param {import("../pages.js").PageContext} context */
export async function render(context) {
  const { main, isAdmin } = context;
  const body = await get("/alert-rules");
  const rules = /** @type {StoredRule[]} */ (body.rules);
  const defaults = new Set(body.defaults);
  const notice = h("div", { "aria-live": "polite" });
  const editor = h("div", {});
  const tester = h("div", {});
  const list = h("div", {});
  const draw = () => replace(list, table([
    { label: "Rule", value: (r) => r.ruleId },
    { label: "Condition", value: condition },
    { label: "Scopes", value: (r) => r.scopes.join(", ") },
    { label: "Severity", value: (r) => badge(`sev-${r.severity}`, r.severity) },
    { label: "Channels", value: (r) => r.channels.join(", ") },
    { label: "Response", value: pauseText },
    { label: "State", value: (r) => (r.enabled ? "enabled" : "disabled") },
    { label: "Action", value: (r) => h("span", { class: "row-actions" },
      isAdmin ? h("button", { type: "button", "aria-label": `Edit ${r.ruleId}`, onclick: () => edit(r) }, "Edit") : null,
      isAdmin && !defaults.has(r.ruleId) ? h("button", { type: "button", class: "danger", "aria-label": `Delete ${r.ruleId}`, onclick: () => confirmDelete(r) }, "Delete") : null,
      // Anomaly and burn-rate rules compare windows the stored runs do not hold: no backtest.
      r.kind === "anomaly" || r.kind === "burn_rate" ? null : h("button", { type: "button", "aria-label": `Backtest ${r.ruleId}`, onclick: () => backtest(r) }, "Backtest")) },
  ], rules, { empty: "No rules." }));

  // The backtest sits beside the editor; for readers it stands alone.
  /**
   * @param {StoredRule} rule
   * @param {import("../panels/backtest.js").UseThreshold} [useThreshold]
   */
  function backtest(rule, useThreshold) {
    const panel = backtestPanel(rule, useThreshold);
    replace(tester, panel);
    if (!useThreshold) {
      replace(editor);
      panel.scrollIntoView({ block: "start" });
      panel.querySelector("select")?.focus();
    }
  }

  /** @param {StoredRule} rule */
  function confirmDelete(rule) {
    replace(tester);
    const cancel = h("button", { type: "button", onclick: () => replace(editor) }, "Cancel");
    const panel = h("div", { class: "panel", role: "alertdialog", "aria-label": `Delete ${rule.ruleId}?` },
      h("h2", { style: "margin-top:0" }, `Delete ${rule.ruleId}?`),
      h("p", {}, "The rule stops being evaluated; alerts it left open are resolved (\"rule deleted\") and whoever was told of them is told. This cannot be undone."),
      h("div", { class: "actions" },
        h("button", { type: "button", class: "danger", onclick: async () => {
          try {
            await del("/alert-rules/{ruleId}", { ruleId: rule.ruleId });
            rules.splice(rules.indexOf(rule), 1);
            replace(editor);
            draw();
            replace(notice, message("notice", `Deleted ${rule.ruleId}.`));
          } catch (error) {
            replace(notice, message("error", "Not deleted.", errorText(error)));
          }
        } }, `Yes, delete ${rule.ruleId}`),
        cancel));
    replace(editor, panel);
    panel.scrollIntoView({ block: "start" });
    cancel.focus();
  }

  function create() {
    const made = newRuleForm({
      onBacktest: (draft) => {
        const shown = /** @type {StoredRule} */ (/** @type {unknown} */ ({ ...draft, ruleId: String(draft.ruleId || "") }));
        const panel = backtestPanel(shown, made.setThreshold, draft);
        replace(tester, panel);
        panel.requestSubmit();
      },
      onCreated: (rule) => {
        rules.push(rule);
        replace(editor);
        replace(tester);
        draw();
        replace(notice, message("notice", `Created ${rule.ruleId}; the next scheduled run evaluates it.`));
      },
      onCancel: () => { replace(editor); replace(tester); },
    });
    replace(tester);
    replace(editor, made.form);
    made.form.scrollIntoView({ block: "start" });
    made.focus();
  }

  /** @param {StoredRule} rule */
  function edit(rule) {
    /** @type {Record<string, HTMLInputElement | HTMLSelectElement>} */
    const inputs = {};
    /** @type {Record<string, HTMLElement>} */
    const errors = {};
    const status = h("div", { "aria-live": "polite" });
    const editable = EDITABLE.filter((f) => !f.only || f.only(rule));
    const fields = editable.map((f) => {
      const id = `rule-${f.name}`;
      let input;
      if (f.options) {
        input = h("select", { id, name: f.name }, f.options(rule).map((o) => h("option", { value: o, selected: rule[f.name] === o }, o)));
      } else if (f.type === "checkbox") {
        input = h("input", { id, name: f.name, type: "checkbox", checked: rule[f.name] });
      } else {
        input = h("input", { id, name: f.name, type: f.type, step: f.step, value: rule[f.name] ?? "" });
      }
      inputs[f.name] = input;
      errors[f.name] = h("div", { class: "error", id: `${id}-error` });
      input.setAttribute("aria-describedby", `${id}-error`);
      return h("div", { class: "field" }, h("label", { for: id }, f.label), input, errors[f.name]);
    });
    const channelBoxes = CHANNELS.map((c) => h("label", { style: "display:inline-flex;gap:4px;margin-right:12px;color:inherit" },
      h("input", { type: "checkbox", name: "channels", value: c, checked: rule.channels.includes(c) }), c));
    errors.channels = h("div", { class: "error", id: "rule-channels-error" });
    const pause = (rule.actions || []).find((a) => a.type === "pause_provider");
    const canPause = rule.scopes.includes("provider");
    const pauseBox = h("input", { id: "rule-pause", type: "checkbox", checked: !!pause, disabled: !canPause });
    const cooldown = h("input", { id: "rule-cooldown", type: "number", min: 1, max: 1440, step: 1, value: pause?.cooldownMinutes ?? 15, style: "width:7em" });
    const probe = h("input", { id: "rule-probe", type: "number", min: 0, max: 1, step: "0.05", value: pause?.probeShare ?? 0.1, style: "width:7em" });
    errors.actions = h("div", { class: "error", id: "rule-actions-error" });
    inputs.actions = probe;
    // The API validates (its message appears next to the field it names), not the browser.
    const form = h("form", { class: "panel", novalidate: true, "aria-label": `Edit rule ${rule.ruleId}`, onsubmit: async (/** @type {SubmitEvent} */ event) => {
      event.preventDefault();
      for (const [name, el] of Object.entries(errors)) {
        el.textContent = "";
        inputs[name]?.removeAttribute("aria-invalid");
      }
      /** @type {Record<string, unknown>} */
      const next = { ...rule };
      for (const f of editable) {
        const input = inputs[f.name];
        if (f.type === "checkbox") next[f.name] = /** @type {HTMLInputElement} */ (input).checked;
        else if (f.type === "number") next[f.name] = input.value === "" ? null : Number(input.value);
        else next[f.name] = input.value;
      }
      next.channels = channelBoxes.map((l) => l.querySelector("input")).filter((i) => i?.checked).map((i) => i?.value);
      next.actions = pauseBox.checked
        ? [{ type: "pause_provider", cooldownMinutes: Number(cooldown.value), probeShare: Number(probe.value) }]
        : [];
      try {
        const saved = await put("/alert-rules/{ruleId}", { ruleId: rule.ruleId }, next);
        Object.assign(rule, saved.rule);
        draw();
        replace(status, message("notice", `Saved ${rule.ruleId}.`));
      } catch (error) {
        const text = errorText(error);
        const field = text.split(":")[0].split(".")[0];
        if (errors[field]) {
          errors[field].textContent = text;
          inputs[field]?.setAttribute("aria-invalid", "true");
          inputs[field]?.focus();
        }
        replace(status, message("error", "Not saved.", text));
      }
    } },
    h("h2", { style: "margin-top:0" }, `Edit ${rule.ruleId}`),
    h("p", { class: "muted" }, `${rule.metric}; scopes ${rule.scopes.join(", ")}`),
    fields,
    h("fieldset", {}, h("legend", {}, "Channels"), channelBoxes, errors.channels),
    h("fieldset", {}, h("legend", {}, "Automated response"),
      h("label", { for: "rule-pause", style: "display:inline-flex;gap:4px;color:inherit" }, pauseBox,
        "Pause the provider while this rule fires for it"),
      canPause ? null : h("p", { class: "muted" }, "Needs the provider scope."),
      h("div", { class: "actions" },
        h("div", { class: "field" }, h("label", { for: "rule-cooldown" }, "Cooldown (minutes) before probing"), cooldown),
        h("div", { class: "field" }, h("label", { for: "rule-probe" }, "Probe share (0 to 1)"), probe)),
      errors.actions),
    h("div", { class: "actions" },
      h("button", { class: "primary", type: "submit" }, "Save"),
      h("button", { type: "button", onclick: () => { replace(editor); replace(tester); } }, "Cancel")),
    status);
    replace(editor, form);
    backtest(rule, (value) => {
      inputs.threshold.value = String(value);
      inputs.threshold.focus();
    });
    form.scrollIntoView({ block: "start" });
    inputs.threshold.focus();
  }

  draw();
  replace(main,
    h("h1", {}, "Alert rules"),
    body.problems.length ? message("error", "Some stored rules do not validate and are not evaluated:", h("ul", {}, body.problems.map((p) => h("li", {}, p)))) : null,
    isAdmin ? h("div", { class: "actions" }, h("button", { type: "button", class: "primary", onclick: create }, "New rule"))
      : h("p", { class: "muted" }, "Read only: editing rules needs the admin role."),
    notice,
    list,
    h("div", { class: "grid2" }, editor, tester));
}
