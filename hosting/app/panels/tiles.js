// @ts-check
// A tile: one headline figure with its label and a note under it.

import { h } from "../ui.js";

/**
 * @param {string} label
 * @param {string | null} figure the element's data-figure (null: none)
 * @param {import("../ui.js").Child} value
 * @param {import("../ui.js").Child} [note]
 */
export function tile(label, figure, value, note) {
  return h("section", { class: "tile" }, h("div", { class: "label" }, label),
    h("div", { class: "value", "data-figure": figure }, value),
    note ? h("div", { class: "muted target" }, note) : null);
}
