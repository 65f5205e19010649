// Exports: the current window's data, any dataset, in every format the API writes.

import { download } from "../api.js";
import { controlBar, windowParams } from "../controls.js";
import { h, message, num, replace } from "../ui.js";

const DATASETS = {
  generations: "Generations (one row per generation)",
  events: "Analytics events",
  alerts: "Alerts",
  system: "System metrics (each scheduled run)",
};
const FORMATS = {
  csv: "CSV",
  xlsx: "Excel (xlsx)",
  pdf: "PDF report",
  json: "JSON",
  ndjson: "NDJSON",
};

export async function render(context) {
  const { main, params } = context;
  const bar = await controlBar(context);
  const status = h("div", { "aria-live": "polite" });
  const dataset = h("select", { id: "export-dataset" },
    Object.entries(DATASETS).map(([value, label]) => h("option", { value }, label)));
  const buttons = Object.entries(FORMATS).map(([format, label]) => h("button", {
    type: "button",
    onclick: async (event) => {
      const button = event.currentTarget;
      button.disabled = true;
      replace(status, h("p", { class: "muted" }, `Preparing ${label}…`));
      try {
        const file = await download({ ...windowParams(params), dataset: dataset.value, format });
        replace(status, message("notice", `Downloaded ${file.name} (${num(file.bytes)} bytes).`));
      } catch (error) {
        replace(status, message("error", "The export failed.", error.message));
      } finally {
        button.disabled = false;
      }
    },
  }, `Download ${label}`));
  replace(main,
    h("h1", {}, "Exports"),
    bar,
    h("p", { class: "muted" }, "Files hold the rows of the window and provider chosen above. The PDF is a report: headline figures against targets, charts and the per-provider table, then the rows."),
    h("div", { class: "field" }, h("label", { for: "export-dataset" }, "Dataset"), dataset),
    h("div", { class: "actions" }, buttons),
    status);
}

export const title = () => "Exports";
