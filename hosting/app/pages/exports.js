// Exports: the current window's data, any dataset, in every format the API writes.

import { download, get, send } from "../api.js";
import { controlBar, windowParams } from "../controls.js";
import { h, message, num, replace } from "../ui.js";

const POLL_MS = 2000;

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
        if (file.job) {
          await follow(file.job.jobId, label, status);
        } else {
          replace(status, message("notice", `Downloaded ${file.name} (${num(file.bytes)} bytes).`));
        }
      } catch (error) {
        replace(status, message("error", "The export failed.", error.message));
      } finally {
        button.disabled = false;
      }
    },
  }, `Download ${label}`));
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

// A background export: its status until done (then a download link) or failed; polling stops
// when the page is left.
async function follow(jobId, label, status) {
  replace(status, h("p", { class: "muted", "data-export-job": jobId }, `Preparing ${label} in the background: queued.`));
  for (;;) {
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    if (!status.isConnected) return;
    const job = await get(`/export-jobs/${jobId}`);
    if (job.status === "done") {
      replace(status, message("notice", `${job.fileName} is ready (${num(job.rows)} rows, ${num(job.bytes)} bytes). `),
        h("a", { href: job.downloadUrl, download: job.fileName, class: "button", "data-export-link": jobId }, `Download ${job.fileName}`),
        h("p", { class: "muted" }, "The link expires after a few minutes; export again if it has."));
      return;
    }
    if (job.status === "failed") {
      replace(status, message("error", "The export failed.", job.error));
      return;
    }
    replace(status, h("p", { class: "muted", "data-export-job": jobId }, `Preparing ${label} in the background: ${job.status} (${num(job.rows)} rows).`));
  }
}

// Digests: the caller opts in to the daily and weekly email, and sees what last week's said.
function digests(choice, weekly) {
  const status = h("div", { "aria-live": "polite" });
  const box = (name, label) => h("label", { style: "display:flex;gap:6px;align-items:center;color:inherit" },
    h("input", { type: "checkbox", name, checked: choice[name] }), label);
  const daily = box("daily", "Email me the daily digest (after 07:00 UTC)");
  const weeklyBox = box("weekly", "Email me the weekly digest (Mondays after 07:00 UTC)");
  const form = h("form", { class: "panel", style: "margin-top:16px", "aria-label": "Digests", onsubmit: async (event) => {
    event.preventDefault();
    const body = { daily: daily.querySelector("input").checked, weekly: weeklyBox.querySelector("input").checked };
    try {
      const saved = await send("PUT", "/me/digests", body);
      replace(status, message("notice", saved.daily || saved.weekly ? `Digests go to ${saved.email}.` : "No digests."));
    } catch (error) {
      replace(status, message("error", "Not saved.", error.message));
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

export const title = () => "Exports";
