// @ts-check
// Objectives: every service level objective from GET /slos with its error budget per scope
// (valid and bad events, the bad events allowed, the budget left, burn rates over 5 minutes to
// 6 hours, when it runs out), and for admins a form per objective that replaces it through
// PUT /slos/{sloId}; the API's validation message appears next to the field it names.

import { get, put } from "../api.js";
import { RULE_SCOPES } from "../contract.js";
import { burn, meter } from "../panels/slos.js";
import { table } from "../panels/table.js";
import { badge, errorText, h, message, num, pct, replace, when } from "../ui.js";

/** @import { GetResponses } from "../contract.js" */
/** @typedef {GetResponses["/slos"]["objectives"][number]} ObjectiveStatus */
/** @typedef {ObjectiveStatus["budgets"][number]} Budget */

const STATUS = { ok: "on track", at_risk: "at risk", exhausted: "exhausted", no_data: "no data" };
const KIND = { ok: "st-resolved", at_risk: "sev-warning", exhausted: "sev-critical", no_data: "sev-info" };

/**
 * A figure the browser tests find by objective, scope and name.
 * @param {string} name
 * @param {import("../ui.js").Child} value
 */
const fig = (name, value) => h("span", { "data-slo-figure": name }, value);

/** @param {Budget} b */
function runsOut(b) {
  if (b.hoursToExhaustion !== null) return `in ${num(b.hoursToExhaustion, 0)} h`;
  return b.budgetRemaining !== null && b.budgetRemaining <= 0 ? "spent" : "–";
}

/**
 * The budget table of one objective.
 * @param {ObjectiveStatus} o
 */
function budgets(o) {
  /** @param {Budget} b @param {string} name */
  const key = (b, name) => `${o.sloId}.${b.scope}.${name}`;
  return table([
    { label: "Scope", value: (b) => b.scope },
    { label: "Valid", num: true, value: (b) => fig(key(b, "valid"), num(b.valid)) },
    { label: "Bad", num: true, value: (b) => fig(key(b, "bad"), num(b.bad)) },
    { label: "Bad allowed", num: true, value: (b) => fig(key(b, "allowedBad"), num(b.allowedBad, 2)) },
    { label: "Good", num: true, value: (b) => fig(key(b, "sli"), pct(b.sli, 2)) },
    { label: "Budget left", value: (b) => h("span", { "data-slo-figure": key(b, "budgetRemaining"), "data-value": String(b.budgetRemaining) }, meter(b.budgetRemaining)) },
    { label: "Burn 5 min", num: true, value: (b) => fig(key(b, "burn5m"), burn(b.burnRates["5m"])) },
    { label: "Burn 30 min", num: true, value: (b) => fig(key(b, "burn30m"), burn(b.burnRates["30m"])) },
    { label: "Burn 1 h", num: true, value: (b) => fig(key(b, "burn1h"), burn(b.burnRates["1h"])) },
    { label: "Burn 6 h", num: true, value: (b) => fig(key(b, "burn6h"), burn(b.burnRates["6h"])) },
    { label: "Runs out", value: (b) => fig(key(b, "hoursToExhaustion"), runsOut(b)) },
    { label: "Status", value: (b) => badge(KIND[b.status], STATUS[b.status]) },
  ], o.budgets, { label: `Budgets of ${o.sloId}`, empty: o.enabled ? "No generations in its window." : "Disabled: no budget is kept." });
}

/**
 * The edit form of one objective (admins); `saved` redraws the page with the stored objective.
 * @param {ObjectiveStatus} o
 * @param {(sloId: string) => Promise<void>} saved
 */
function editForm(o, saved) {
  const sloId = o.sloId ?? "";
  const id = (/** @type {string} */ name) => `slo-${o.sloId}-${name}`;
  /** @type {Record<string, HTMLElement>} */
  const errors = {};
  /** @type {Record<string, HTMLInputElement | HTMLTextAreaElement>} */
  const inputs = {};
  /**
   * @param {string} name
   * @param {string} label
   * @param {HTMLInputElement | HTMLTextAreaElement} input
   */
  const field = (name, label, input) => {
    input.id = id(name);
    input.setAttribute("aria-describedby", id(`${name}-error`));
    inputs[name] = input;
    errors[name] = h("div", { class: "error", id: id(`${name}-error`) });
    return h("div", { class: "field" }, h("label", { for: id(name) }, label), input, errors[name]);
  };
  const latency = o.sli === "latency";
  // An objective's scopes are the kinds a rule's are (overall, provider, tier).
  const scopeBoxes = RULE_SCOPES.map((s) => h("label", { style: "display:inline-flex;gap:4px;margin-right:12px;color:inherit" },
    h("input", { type: "checkbox", name: "scopes", value: s, checked: (o.scopes ?? []).includes(s) }), s));
  errors.scopes = h("div", { class: "error", id: id("scopes-error") });
  const enabled = h("input", { id: id("enabled"), type: "checkbox", checked: o.enabled !== false });
  const status = h("div", { "aria-live": "polite" });
  // A number as typed, or the text itself so the API names what it cannot use.
  const number = (/** @type {string} */ text) => (text.trim() !== "" && Number.isFinite(Number(text)) ? Number(text) : text);
  const form = h("form", { class: "panel", novalidate: true, "aria-label": `Edit objective ${o.sloId}`, onsubmit: async (/** @type {SubmitEvent} */ event) => {
    event.preventDefault();
    for (const [name, el] of Object.entries(errors)) {
      el.textContent = "";
      inputs[name]?.removeAttribute("aria-invalid");
    }
    /** @type {Record<string, unknown>} */
    const body = {
      sli: o.sli,
      target: number(inputs.target.value),
      windowDays: number(inputs.windowDays.value),
      scopes: scopeBoxes.map((l) => l.querySelector("input")).filter((i) => i?.checked).map((i) => i?.value),
      enabled: enabled.checked,
      description: inputs.description.value,
    };
    if (latency) body.thresholdSeconds = number(inputs.thresholdSeconds.value);
    replace(status, h("p", { class: "muted" }, "Saving…"));
    try {
      await put("/slos/{sloId}", { sloId }, body);
      await saved(sloId);
    } catch (error) {
      const text = errorText(error);
      const name = text.split(":")[0].split(".")[0];
      if (errors[name]) {
        errors[name].textContent = text;
        inputs[name]?.setAttribute("aria-invalid", "true");
        inputs[name]?.focus();
      }
      replace(status, message("error", "Not saved.", text));
    }
  } },
  h("h3", { style: "margin-top:0" }, `Edit ${o.sloId}`),
  field("target", "Target (share of valid events that must be good, 0.5 to 0.99999)",
    h("input", { type: "text", inputmode: "decimal", value: String(o.target), autocomplete: "off" })),
  latency ? field("thresholdSeconds", "Threshold (seconds)", h("input", { type: "text", inputmode: "decimal", value: String(o.thresholdSeconds ?? ""), autocomplete: "off" })) : null,
  field("windowDays", "Window (days, 1 to 90)", h("input", { type: "text", inputmode: "numeric", value: String(o.windowDays ?? 28), autocomplete: "off" })),
  h("fieldset", {}, h("legend", {}, "Scopes"), scopeBoxes, errors.scopes),
  h("label", { for: id("enabled"), style: "display:inline-flex;gap:4px;color:inherit;margin:8px 0" }, enabled, "Enabled"),
  field("description", "Description", h("textarea", { rows: 2, style: "width:100%;max-width:40em" }, o.description ?? "")),
  h("div", { class: "actions" }, h("button", { class: "primary", type: "submit" }, `Save ${o.sloId}`)),
  status);
  return form;
}

/**
 * One objective: what it promises, its budgets and (admins) its editor.
 * @param {ObjectiveStatus} o
 * @param {boolean} isAdmin
 * @param {(sloId: string) => Promise<void>} saved
 */
function objectiveSection(o, isAdmin, saved) {
  const editor = h("div", {});
  const target = pct(o.target, o.target >= 0.99 ? 2 : 1);
  return h("section", { class: "panel", style: "margin:12px 0", "aria-labelledby": `slo-${o.sloId}`, "data-slo": o.sloId },
    h("h2", { id: `slo-${o.sloId}`, style: "margin-top:0" }, o.sloId, " ", o.enabled === false ? badge("sev-info", "disabled") : null),
    o.description ? h("p", {}, o.description) : null,
    h("dl", { class: "kv" },
      h("dt", {}, "Indicator"), h("dd", {}, o.sli === "latency" ? `latency: completed within ${num(o.thresholdSeconds, 0)} s` : "success: completed of completed and failed"),
      h("dt", {}, "Target"), h("dd", {}, fig(`${o.sloId}.target`, target)),
      h("dt", {}, "Window"), h("dd", {}, `${o.windowDays ?? 28} days`, o.window?.start ? ` (${when(o.window.start)} – ${when(o.window.end)})` : ""),
      h("dt", {}, "Scopes"), h("dd", {}, (o.scopes ?? []).join(", ")),
      o.uncertainSeconds?.length ? [h("dt", {}, "Uncertain band"), h("dd", {}, o.uncertainSeconds.map((s) => `${num(s, 1)} s`).join(" – "))] : null),
    budgets(o),
    isAdmin
      ? h("div", { class: "actions", style: "margin-top:10px" }, h("button", { type: "button", "aria-expanded": "false", onclick: (/** @type {MouseEvent} */ event) => {
        const button = /** @type {HTMLButtonElement} */ (event.currentTarget);
        const open = button.getAttribute("aria-expanded") !== "true";
        button.setAttribute("aria-expanded", String(open));
        replace(editor, open ? editForm(o, saved) : null);
        if (open) editor.querySelector("input")?.focus();
      } }, `Edit ${o.sloId}`))
      : null,
    editor);
}

/** @param {import("../pages.js").PageContext} context */
export async function render({ main, isAdmin }) {
  const notice = h("div", { "aria-live": "polite" });
  /** @param {GetResponses["/slos"]} body */
  const draw = (body) => replace(main,
    h("h1", {}, "Objectives"),
    h("p", { class: "muted" }, `Each objective's error budget over its rolling window to ${when(body.at)}. Burn 1× spends the budget exactly over the window; an overspent budget says how many times over it was spent.`),
    isAdmin ? null : h("p", { class: "muted" }, "Read only: changing an objective needs the admin role."),
    notice,
    body.objectives.length ? body.objectives.map((o) => objectiveSection(o, isAdmin, saved)) : h("p", { class: "muted" }, "No objective is defined."));
  /** @param {string} sloId */
  async function saved(sloId) {
    draw(await get("/slos"));
    replace(notice, message("notice", `Saved ${sloId}; the budgets below are recomputed with it.`));
    notice.setAttribute("tabindex", "-1");
    notice.focus();
  }
  draw(await get("/slos"));
}
