// @ts-check
// Exports: the current window's data, any dataset, in every format the API writes.

import { download, get } from "../api.js";
import { EXPORT_DATASETS, EXPORT_FORMATS } from "../contract.js";
import { controlBar, windowParams } from "../panels/controls.js";
import { digests } from "../panels/digests.js";
import { errorText, h, message, num, replace } from "../ui.js";

/** @import { ExportDataset, ExportFormat, GetResponses } from "../contract.js" */

const POLL_MS = 2000;

/** @type {Record<ExportDataset, string>} */
const DATASETS = {
  generations: "Generations (one row per generation)",
  events: "Analytics events",
  alerts: "Alerts",
  system: "System metrics (each scheduled run)",
};
/** @type {Record<ExportFormat, string>} */
const FORMATS = {
  csv: "CSV",
  xlsx: "Excel (xlsx)",
  pdf: "PDF report",
  json: "JSON",
  ndjson: "NDJSON",
};

/** @param {import("../pages.js").PageContext} context */
export async function render(context) {
  const { main, params } = context;
  const bar = await controlBar(context);
  const status = h("div", { "aria-live": "polite" });
  const dataset = h("select", { id: "export-dataset" },
    EXPORT_DATASETS.map((value) => h("option", { value }, DATASETS[value])));
  const buttons = EXPORT_FORMATS.map((format) => h("button", {
    type: "button",
    onclick: async (/** @type {Event} */ event) => {
      const label = FORMATS[format];
      const button = /** @type {HTMLButtonElement} */ (event.currentTarget);
      button.disabled = true;
      replace(status, h("p", { class: "muted" }, `Preparing ${label}…`));
      try {
        const file = await download({ ...windowParams(params), dataset: dataset.value, format });
        if (file.job) {
          await follow(file.job.jobId, label, status);
        } else {
          replace(status, message("notice", `Downloaded ${file.name} (${num(file.bytes)} bytes).`));
        }
      } catch (error) {
        replace(status, message("error", "The export failed.", errorText(error)));
      } finally {
        button.disabled = false;
      }
    },
  }, `Download ${FORMATS[format]}`));
  const [choice, weekly] = await Promise.all([get("/me/digests"), get("/digest", { period: "weekly" })]);
  replace(main,
    h("h1", {}, "Exports"),
    bar,
    h("p", { class: "muted" }, "Files hold the rows of the window and provider chosen above. The PDF is a report: headline figures against targets, charts and the per-provider table, then the rows."),
    h("div", { class: "field" }, h("label", { for: "export-dataset" }, "Dataset"), dataset),
    h("div", { class: "actions" }, buttons),
    status,
    digests(choice, weekly));
}

/**
 * A background export: its status until done (then a download link) or failed; polling stops
 * when the page is left.
 * @param {string} jobId
 * @param {string} label
 * @param {HTMLElement} status
 */
async function follow(jobId, label, status) {
  replace(status, h("p", { class: "muted", "data-export-job": jobId }, `Preparing ${label} in the background: queued.`));
  for (;;) {
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    if (!status.isConnected) return;
    const job = await get("/export-jobs/{jobId}", { jobId });
    if (job.status === "done") {
      replace(status, message("notice", `${job.fileName} is ready (${num(job.rows)} rows, ${num(job.bytes ?? 0)} bytes). `),
        h("a", { href: job.downloadUrl ?? "", download: job.fileName, class: "button", "data-export-link": jobId }, `Download ${job.fileName}`),
        h("p", { class: "muted" }, "The link expires after a few minutes; export again if it has."));
      return;
    }
    if (job.status === "failed") {
      replace(status, message("error", "The export failed.", job.error ?? "no reason recorded"));
      return;
    }
    replace(status, h("p", { class: "muted", "data-export-job": jobId }, `Preparing ${label} in the background: ${job.status} (${num(job.rows)} rows).`));
  }
}
