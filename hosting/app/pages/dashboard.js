// @ts-check
// One custom dashboard: its panels, each reading its figure as the fixed page does; with `?edit=1`
// (its owner, or an admin for a shared one) the editor: title, sharing, and the panels' figure,
// scope, window and chart, saved with PUT and checked by the API, whose message names the field.

import { ApiError, del, get, put } from "../api.js";
import { PANEL_CHARTS, PANEL_FIGURES, WINDOWS } from "../contract.js";
import { providers } from "../panels/controls.js";
import { CHART_LABELS, FIGURES, panelView } from "../panels/figures.js";
import { errorText, h, message, replace, when } from "../ui.js";

/** @typedef {import("../contract.js").GetResponses["/dashboards/{dashboardId}"]["dashboard"]} Board */
/** @typedef {Board["panels"][number]} Panel */

/**
 * A labelled select.
 * @param {string} id
 * @param {string} label
 * @param {ReadonlyArray<string>} values
 * @param {string} chosen
 * @param {(value: string) => string} [text]
 */
function select(id, label, values, chosen, text = (v) => v) {
  const el = h("select", { id }, values.map((v) => h("option", { value: v, selected: v === chosen }, text(v))));
  return { el, field: h("div", { class: "field" }, h("label", { for: id }, label), el) };
}

/**
 * The editor: the layout as inputs; Save sends it, Cancel goes back to the dashboard.
 * @param {import("../pages.js").PageContext} context
 * @param {Board} board
 * @param {number} maxPanels
 */
async function editor(context, board, maxPanels) {
  const { navigate } = context;
  const path = `/dashboards/${encodeURIComponent(board.dashboardId)}`;
  const known = await providers().catch(() => /** @type {string[]} */ ([]));
  const scopes = ["overall", ...new Set([...known, ...board.panels.map((p) => p.scope).filter((s) => s !== "overall")])];
  /** @type {Panel[]} */
  const panels = board.panels.map((p) => ({ ...p }));
  const title = h("input", { id: "edit-title", type: "text", value: board.title, required: true, maxlength: 80, autocomplete: "off" });
  const shared = h("input", { id: "edit-shared", type: "checkbox", checked: board.shared });
  const rows = h("ol", { class: "board-rows" });
  const status = h("div", { "aria-live": "polite" });
  const add = h("button", { type: "button", onclick: () => {
    panels.push({ figure: "successRate", scope: "overall", window: "24h", chart: "tile" });
    draw();
    /** @type {HTMLElement | null} */ (rows.querySelector(`#panel-${panels.length - 1}-figure`))?.focus();
  } }, "Add panel");

  function draw() {
    replace(rows, panels.map((panel, i) => {
      const spec = FIGURES[panel.figure];
      const figure = select(`panel-${i}-figure`, "Figure", PANEL_FIGURES, panel.figure, (f) => FIGURES[/** @type {Panel["figure"]} */ (f)]?.label ?? f);
      const scope = select(`panel-${i}-scope`, "Scope", scopes, panel.scope, (s) => (s === "overall" ? "All providers" : s));
      const window = select(`panel-${i}-window`, "Window", WINDOWS, panel.window);
      // A figure of the whole window only is a tile; the others chart over time as well.
      const charts = spec?.metric ? PANEL_CHARTS : PANEL_CHARTS.filter((c) => c === "tile");
      const chart = select(`panel-${i}-chart`, "Chart", charts, panel.chart, (c) => CHART_LABELS[c] ?? c);
      figure.el.addEventListener("change", () => {
        panel.figure = /** @type {Panel["figure"]} */ (figure.el.value);
        if (!FIGURES[panel.figure]?.metric) panel.chart = "tile";
        draw();
        /** @type {HTMLElement | null} */ (rows.querySelector(`#panel-${i}-figure`))?.focus();
      });
      scope.el.addEventListener("change", () => { panel.scope = scope.el.value; });
      window.el.addEventListener("change", () => { panel.window = /** @type {Panel["window"]} */ (window.el.value); });
      chart.el.addEventListener("change", () => { panel.chart = /** @type {Panel["chart"]} */ (chart.el.value); });
      const remove = h("button", { type: "button", "aria-label": `Remove panel ${i + 1}`, onclick: () => {
        panels.splice(i, 1);
        draw();
        add.focus();
      } }, "Remove");
      return h("li", { class: "board-row", "data-row": i }, figure.field, scope.field, window.field, chart.field, remove);
    }));
    add.disabled = panels.length >= maxPanels;
    add.title = add.disabled ? `At most ${maxPanels} panels` : "";
  }
  draw();
  const save = h("button", { class: "primary", type: "submit" }, "Save");
  return h("form", { class: "panel", "aria-labelledby": "edit-heading", onsubmit: async (/** @type {SubmitEvent} */ event) => {
    event.preventDefault();
    save.disabled = true;
    try {
      await put("/dashboards/{dashboardId}", { dashboardId: board.dashboardId }, { title: title.value, shared: shared.checked, panels });
      navigate(path);
    } catch (error) {
      const code = error instanceof ApiError ? ` (${error.status})` : "";
      replace(status, message("error", `The dashboard was not saved${code}.`, errorText(error)));
      save.disabled = false;
    }
  } },
  h("h2", { id: "edit-heading" }, "Edit"),
  h("div", { class: "field" }, h("label", { for: "edit-title" }, "Title"), title),
  h("div", { class: "field" }, h("label", { for: "edit-shared" }, shared, " Shared: every console user sees it")),
  h("h3", {}, `Panels (at most ${maxPanels})`),
  rows,
  h("div", { class: "board-actions" }, add, save, h("a", { href: path, "data-nav": true }, "Cancel")),
  status);
}

/** @param {import("../pages.js").PageContext} context */
export async function render(context) {
  const { main, args, params, navigate } = context;
  const id = args.dashboardId;
  const [{ dashboard: board }, list] = await Promise.all([
    get("/dashboards/{dashboardId}", { dashboardId: id }),
    get("/dashboards"),
  ]);
  const editing = params.get("edit") === "1" && board.editable;
  const path = `/dashboards/${encodeURIComponent(board.dashboardId)}`;
  const status = h("div", { "aria-live": "polite" });
  const actions = board.editable && !editing
    ? h("div", { class: "board-actions" },
      h("a", { href: `${path}?edit=1` }, "Edit"),
      h("button", { type: "button", onclick: async () => {
        if (!confirm(`Delete the dashboard "${board.title}"?`)) return;
        try {
          await del("/dashboards/{dashboardId}", { dashboardId: board.dashboardId });
          navigate("/dashboards");
        } catch (error) {
          replace(status, message("error", "The dashboard was not deleted.", errorText(error)));
        }
      } }, "Delete"))
    : null;
  const grid = h("div", { class: "board-grid" });
  replace(main,
    h("p", {}, h("a", { href: "/dashboards", "data-nav": true }, "All dashboards")),
    h("h1", {}, board.title),
    h("p", { class: "muted" }, board.shared ? "Shared" : "Private", ` · owner ${board.owner} · changed ${when(board.updatedAt)}`,
      board.editable ? "" : " · you may view it, not change it"),
    actions,
    status,
    editing ? await editor(context, board, list.limits.maxPanels) : null,
    board.panels.length ? grid : editing ? null : h("p", { class: "muted" }, board.editable
      ? "No panel yet: edit the dashboard to add some." : "This dashboard has no panel yet."));
  // Each panel reads its own figure; they load together and show once all have answered.
  replace(grid, await Promise.all(board.panels.map((panel, i) => panelView(panel, i))));
}
