// @ts-check
// A table of rows with sortable columns.

import { h } from "../ui.js";

/** @typedef {import("../ui.js").Child} Child */
/** @typedef {string | number | boolean | null | undefined} Comparable */

/**
 * A column: its heading, what a row shows in it, right-aligned figures, and the sort key of a
 * sortable column.
 * @template T
 * @typedef {{ label: string, value: (row: T) => Child, num?: boolean, sort?: (row: T) => Comparable }} Column
 */

/**
 * The column sorted on and its direction, kept by the page across refreshes.
 * @typedef {{ column?: number, descending?: boolean }} SortState
 */

/**
 * Sortable columns have a button in their header; the sort is kept in `state` across refreshes.
 * @template T
 * @param {Array<Column<T>>} columns
 * @param {ReadonlyArray<T>} rows
 * @param {{ caption?: string, label?: string, state?: SortState, onSort?: () => void, empty?: string }} [options]
 */
export function table(columns, rows, { caption, label, state, onSort, empty = "Nothing in this window." } = {}) {
  if (!rows.length) return h("p", { class: "muted" }, empty);
  let sorted = rows;
  if (state && state.column !== undefined) {
    const column = columns[state.column];
    const key = column.sort || column.value;
    sorted = [...rows].sort((a, b) => {
      const x = /** @type {Comparable} */ (key(a));
      const y = /** @type {Comparable} */ (key(b));
      if (x === y) return 0;
      if (x === null || x === undefined) return 1;
      if (y === null || y === undefined) return -1;
      return (x < y ? -1 : 1) * (state.descending ? -1 : 1);
    });
  }
  const head = columns.map((column, index) => {
    /** @type {import("../ui.js").Attributes} */
    const attrs = { scope: "col", class: column.num ? "num" : null };
    if (!state || !column.sort) return h("th", attrs, column.label);
    const active = state.column === index;
    attrs["aria-sort"] = active ? (state.descending ? "descending" : "ascending") : "none";
    return h("th", attrs, h("button", {
      class: "sort", type: "button",
      onclick: () => {
        state.descending = active ? !state.descending : true;
        state.column = index;
        onSort?.();
        // The table was rebuilt: give the focus back to this column's new button.
        const buttons = document.querySelectorAll("th button.sort");
        /** @type {HTMLElement | undefined} */ (buttons[columns.slice(0, index).filter((c) => c.sort).length])?.focus();
      },
    }, column.label, active ? (state.descending ? " ▼" : " ▲") : ""));
  });
  // The wrapper scrolls sideways on narrow screens; focusable so the keyboard can scroll it.
  const name = label || caption || columns.map((c) => c.label).filter(Boolean).slice(0, 3).join(", ");
  return h("div", { class: "table-wrap", tabindex: 0, role: "region", "aria-label": `Table: ${name}` }, h("table", {},
    caption ? h("caption", { class: "muted" }, caption) : null,
    h("thead", {}, h("tr", {}, head)),
    h("tbody", {}, sorted.map((row) => h("tr", {}, columns.map((column) =>
      h("td", { class: column.num ? "num" : null }, column.value(row))))))));
}
