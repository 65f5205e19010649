// DOM and formatting helpers. Text goes in through textContent only, never as HTML.

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") el.className = value;
    else if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (key === "dataset") Object.assign(el.dataset, value);
    // Through the CSSOM: the Content-Security-Policy refuses style attributes set as markup.
    else if (key === "style") el.style.cssText = value;
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

const missing = "–";

export function num(value, digits = 0) {
  if (value === null || value === undefined || Number.isNaN(value)) return missing;
  return value.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

export function pct(value, digits = 1) {
  if (value === null || value === undefined) return missing;
  return `${(value * 100).toFixed(digits)}%`;
}

export function secs(value, digits = 1) {
  if (value === null || value === undefined) return missing;
  return `${value.toFixed(digits)} s`;
}

export function usd(value, digits = 2) {
  if (value === null || value === undefined) return missing;
  return `$${num(value, digits)}`;
}

export function when(text) {
  if (!text) return missing;
  const date = new Date(text);
  return date.toISOString().replace("T", " ").slice(0, 16) + " UTC";
}

export function message(kind, title, ...body) {
  return h("div", { class: `message ${kind}`, role: kind === "error" ? "alert" : "status" },
    h("strong", {}, title), body.length ? h("div", {}, ...body) : null);
}

// A table whose columns are {label, value(row) -> text|Node, num?, sort?(row) -> comparable}.
// Sortable columns have a button in their header; the sort is kept in `state` across refreshes.
export function table(columns, rows, { caption, label, state, onSort, empty = "Nothing in this window." } = {}) {
  if (!rows.length) return h("p", { class: "muted" }, empty);
  let sorted = rows;
  if (state && state.column !== undefined) {
    const column = columns[state.column];
    const key = column.sort || column.value;
    sorted = [...rows].sort((a, b) => {
      const x = key(a), y = key(b);
      if (x === y) return 0;
      if (x === null || x === undefined) return 1;
      if (y === null || y === undefined) return -1;
      return (x < y ? -1 : 1) * (state.descending ? -1 : 1);
    });
  }
  const head = columns.map((column, index) => {
    const attrs = { scope: "col", class: column.num ? "num" : null };
    if (!state || !column.sort) return h("th", attrs, column.label);
    const active = state.column === index;
    attrs["aria-sort"] = active ? (state.descending ? "descending" : "ascending") : "none";
    return h("th", attrs, h("button", {
      class: "sort", type: "button",
      onclick: () => {
        state.descending = active ? !state.descending : true;
        state.column = index;
        onSort();
        // The table was rebuilt: give the focus back to this column's new button.
        document.querySelectorAll("th button.sort")[columns.slice(0, index).filter((c) => c.sort).length]?.focus();
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

export function badge(kind, text) {
  return h("span", { class: `badge ${kind}` }, text);
}
