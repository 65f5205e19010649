// @ts-check
// Exports: the current window's data, any dataset, in every format the API writes.

import { download, get, put } from "../api.js";
import { EXPORT_DATASETS, EXPORT_FORMATS } from "../contract.js";
import { controlBar, windowParams } from "../panels/controls.js";
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

/**
 * Digests: the caller opts in to the daily and weekly email, and sees what last week's said.
 * @param {GetResponses["/me/digests"]} choice
 * @param {GetResponses["/digest"]} weekly
 */
function digests(choice, weekly) {
  const status = h("div", { "aria-live": "polite" });
  /**
   * @param {"daily" | "weekly"} name
   * @param {string} label
   */
  const box = (name, label) => h("label", { style: "display:flex;gap:6px;align-items:center;color:inherit" },
    h("input", { type: "checkbox", name, checked: choice[name] }), label);
  const daily = box("daily", "Email me the daily digest (after 07:00 UTC)");
  const weeklyBox = box("weekly", "Email me the weekly digest (Mondays after 07:00 UTC)");
  /** @param {HTMLElement} label */
  const checked = (label) => Boolean(label.querySelector("input")?.checked);
  const form = h("form", { class: "panel", style: "margin-top:16px", "aria-label": "Digests", onsubmit: async (/** @type {SubmitEvent} */ event) => {
    event.preventDefault();
    const body = { daily: checked(daily), weekly: checked(weeklyBox) };
    try {
      const saved = await put("/me/digests", {}, body);
      replace(status, message("notice", saved.daily || saved.weekly ? `Digests go to ${saved.email}.` : "No digests."));
    } catch (error) {
      replace(status, message("error", "Not saved.", errorText(error)));
    }
  } },
  h("h2", { style: "margin-top:0" }, "Digests"),
  h("p", { class: "muted" }, "A summary without being paged: figures against targets and the previous period, regressions by provider, alerts with their time to acknowledge and resolve, and recommendations."),
  daily, weeklyBox,
  h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, "Save digests")),
  status,
  h("h3", {}, `Last week's recommendations (${weekly.period.key})`),
  weekly.recommendations.length
    ? h("ol", { "data-figure": "digest.recommendations" }, weekly.recommendations.map((r) =>
      h("li", {}, h("strong", {}, r.title), h("div", { class: "muted" }, r.text))))
    : h("p", { class: "muted", "data-figure": "digest.recommendations" }, "None: nothing to change last week."));
  return form;
}
