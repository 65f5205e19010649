// @ts-check
// DOM and formatting helpers. Text goes in through textContent only, never as HTML.

/** @typedef {Node | string | number | boolean | null | undefined | Child[]} Child */
/** @typedef {Record<string, unknown>} Attributes */

/**
 * An element with attributes (`on*` listeners, `class`, `dataset`, `style`) and children.
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {Attributes | null} [attrs]
 * @param {...Child} children
 * @returns {HTMLElementTagNameMap[K]}
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") el.className = String(value);
    else if (key.startsWith("on")) el.addEventListener(key.slice(2), /** @type {EventListener} */ (value));
    else if (key === "dataset") Object.assign(el.dataset, value);
    // Through the CSSOM: the Content-Security-Policy refuses style attributes set as markup.
    else if (key === "style") el.style.cssText = String(value);
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  append(el, children);
  return el;
}

/**
 * @param {Element} el
 * @param {Child[]} children
 */
function append(el, children) {
  for (const child of children) {
    if (Array.isArray(child)) append(el, child);
    else if (child === undefined || child === null || child === false) continue;
    else el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/**
 * @template {Element} E
 * @param {E} el
 * @param {...Child} children
 * @returns {E}
 */
export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

const missing = "–";

/** @typedef {number | null | undefined} Figure */

/**
 * @param {Figure} value
 * @param {number} [digits]
 */
export function num(value, digits = 0) {
  if (value === null || value === undefined || Number.isNaN(value)) return missing;
  return value.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

/**
 * @param {Figure} value
 * @param {number} [digits]
 */
export function pct(value, digits = 1) {
  if (value === null || value === undefined) return missing;
  return `${(value * 100).toFixed(digits)}%`;
}

/**
 * @param {Figure} value
 * @param {number} [digits]
 */
export function secs(value, digits = 1) {
  if (value === null || value === undefined) return missing;
  return `${value.toFixed(digits)} s`;
}

/**
 * @param {Figure} value
 * @param {number} [digits]
 */
export function usd(value, digits = 2) {
  if (value === null || value === undefined) return missing;
  return `$${num(value, digits)}`;
}

/** @param {string | null | undefined} text */
export function when(text) {
  if (!text) return missing;
  const date = new Date(text);
  return `${date.toISOString().replace("T", " ").slice(0, 16)} UTC`;
}

/**
 * @param {"error" | "notice"} kind
 * @param {string} title
 * @param {...Child} body
 */
export function message(kind, title, ...body) {
  return h("div", { class: `message ${kind}`, role: kind === "error" ? "alert" : "status" },
    h("strong", {}, title), body.length ? h("div", {}, ...body) : null);
}

/**
 * @param {string} kind
 * @param {string} text
 */
export function badge(kind, text) {
  return h("span", { class: `badge ${kind}` }, text);
}

/**
 * What went wrong, in words: an error's message.
 * @param {unknown} error
 */
export function errorText(error) {
  return error instanceof Error ? error.message : String(error);
}
