// @ts-check
// Erase a user (admins): the user id typed twice (the button stays disabled until both match),
// then POST /users/{userId}/erase; while it runs the page says for how long, and once done it
// shows what was deleted or anonymised per Firestore collection and BigQuery table.

import { ApiError, post } from "../api.js";
import { table } from "../panels/table.js";
import { errorText, h, message, num, replace } from "../ui.js";

/** @import { ErasureReport } from "../contract.js" */

/**
 * What the erasure did, as the API reports it.
 * @param {ErasureReport} report
 */
function reportView(report) {
  /** @type {Array<{ collection: string, kind: string, count: number }>} */
  const rows = [];
  for (const [collection, counts] of Object.entries(report.firestore)) {
    for (const [kind, count] of Object.entries(counts)) rows.push({ collection, kind, count });
  }
  const tables = Object.entries(report.bigquery ?? {}).map(([name, count]) => ({ name, count }));
  const total = rows.reduce((sum, r) => sum + r.count, 0);
  return h("section", { "aria-labelledby": "erase-report", "data-erased": report.userId },
    h("h2", { id: "erase-report" }, `Erased ${report.userId}`),
    h("p", {}, h("span", { "data-erase-figure": "firestore.total" }, num(total)),
      " Firestore documents deleted or anonymised.",
      report.aggregatesKept ? " The aggregates keep their counts: anonymised records still add up." : ""),
    table([
      { label: "Collection", value: (r) => r.collection },
      { label: "Done", value: (r) => r.kind },
      { label: "Documents", num: true, value: (r) => h("span", { "data-erase-figure": `firestore.${r.collection}.${r.kind}` }, num(r.count)) },
    ], rows, { label: "Firestore", empty: "No Firestore document named this user." }),
    h("h3", {}, "BigQuery"),
    report.bigquery === null
      ? h("p", { class: "muted", "data-erase-figure": "bigquery" }, "BigQuery is not enabled: nothing to anonymise there.")
      : table([
        { label: "Table", value: (r) => r.name },
        { label: "Rows anonymised", num: true, value: (r) => h("span", { "data-erase-figure": `bigquery.${r.name}` }, num(r.count)) },
      ], tables, { label: "BigQuery", empty: "No BigQuery row named this user." }));
}

/** @param {import("../pages.js").PageContext} context */
export async function render({ main, isAdmin }) {
  if (!isAdmin) throw new ApiError(403, "permission_denied", "Erasing a user's data needs the admin role.");
  const first = h("input", { id: "erase-user", type: "text", autocomplete: "off", spellcheck: "false", "aria-describedby": "erase-help" });
  const again = h("input", { id: "erase-confirm", type: "text", autocomplete: "off", spellcheck: "false", "aria-describedby": "erase-match" });
  const match = h("p", { id: "erase-match", class: "muted", "aria-live": "polite" }, "Type the id twice to confirm.");
  const button = h("button", { class: "danger", type: "submit", disabled: true }, "Erase this user's data");
  const status = h("div", { "aria-live": "polite" });
  const result = h("div", {});
  let running = false;
  const check = () => {
    const same = first.value !== "" && first.value === again.value;
    button.disabled = running || !same;
    match.textContent = !again.value ? "Type the id twice to confirm."
      : same ? "The ids match." : "The ids differ.";
  };
  first.addEventListener("input", check);
  again.addEventListener("input", check);
  const form = h("form", { class: "panel", "aria-label": "Erase a user", onsubmit: async (/** @type {SubmitEvent} */ event) => {
    event.preventDefault();
    const userId = first.value;
    if (running || userId === "" || userId !== again.value) return;
    running = true;
    check();
    form.setAttribute("aria-busy", "true");
    replace(result);
    const started = Date.now();
    // The seconds are for the eye; a screen reader hears "Erasing" once, then the outcome.
    const elapsed = h("span", { "aria-hidden": "true" });
    replace(status, h("p", { class: "muted", "data-erase-progress": "" }, `Erasing ${userId}… `, elapsed));
    // An erasure walks every collection and table: on a loaded machine it takes a while.
    const ticker = setInterval(() => {
      elapsed.textContent = `${Math.round((Date.now() - started) / 1000)} s so far.`;
    }, 1000);
    try {
      const report = await post("/users/{userId}/erase", { userId }, undefined);
      replace(status, message("notice", `Done in ${num((Date.now() - started) / 1000, 1)} s.`));
      replace(result, reportView(report));
      first.value = "";
      again.value = "";
    } catch (error) {
      replace(status, message("error", "Not erased.", errorText(error)));
    } finally {
      clearInterval(ticker);
      running = false;
      form.removeAttribute("aria-busy");
      check();
    }
  } },
  h("div", { class: "field" }, h("label", { for: "erase-user" }, "User id"), first),
  h("p", { id: "erase-help", class: "muted" }, "The id the generation platform gives the user (as in the exports' raw ids)."),
  h("div", { class: "field" }, h("label", { for: "erase-confirm" }, "The same user id again"), again),
  match,
  h("div", { class: "actions" }, button),
  status);
  replace(main,
    h("h1", {}, "Erase a user"),
    h("p", {}, "Deletes the user's lifecycle events and user days, and anonymises their app events, generation metrics, event records and BigQuery rows (raw id and pseudonym), so every aggregate stays exact. It cannot be undone; running it again finishes an interrupted erasure. The audit log names the user by a digest only."),
    form,
    result);
}
