// @ts-check
// Custom dashboards: the ones the user may see (their own and the shared ones), and a new one,
// created under an id made from its title and opened for editing (docs/dashboards.md).

import { ApiError, get, put } from "../api.js";
import { table } from "../panels/table.js";
import { errorText, h, message, num, replace, when } from "../ui.js";

/** @typedef {import("../contract.js").GetResponses["/dashboards"]["dashboards"][number]} Board */

/**
 * An id from a title: lower-case words joined by hyphens, and a short random suffix so two
 * users' "Ops" do not collide (ids are one namespace).
 * @param {string} title
 */
export function slugFor(title) {
  const base = title.normalize("NFKD").toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-+|-+$/g, "").slice(0, 40);
  const suffix = Math.random().toString(36).slice(2, 6).padEnd(4, "0");
  return `${base || "dashboard"}-${suffix}`;
}

/** @param {import("../pages.js").PageContext} context */
export async function render(context) {
  const { main, navigate } = context;
  const body = await get("/dashboards");
  const limits = body.limits;
  const mine = body.dashboards.filter((d) => d.editable).length;
  const title = h("input", { id: "new-title", type: "text", required: true, maxlength: limits.maxTitleLength, autocomplete: "off" });
  const shared = h("input", { id: "new-shared", type: "checkbox" });
  const status = h("div", { "aria-live": "polite" });
  const button = h("button", { class: "primary", type: "submit" }, "Create and add panels");
  const form = h("form", { class: "panel board-new", "aria-labelledby": "new-heading", onsubmit: async (/** @type {SubmitEvent} */ event) => {
    event.preventDefault();
    const id = slugFor(title.value);
    button.disabled = true;
    try {
      await put("/dashboards/{dashboardId}", { dashboardId: id }, { title: title.value, shared: shared.checked, panels: [] });
      navigate(`/dashboards/${encodeURIComponent(id)}`, new URLSearchParams({ edit: "1" }));
    } catch (error) {
      const code = error instanceof ApiError ? ` (${error.status})` : "";
      replace(status, message("error", `The dashboard was not created${code}.`, errorText(error)));
      button.disabled = false;
      title.focus();
    }
  } },
  h("h2", { id: "new-heading" }, "New dashboard"),
  h("div", { class: "field" }, h("label", { for: "new-title" }, `Title (at most ${limits.maxTitleLength} characters)`), title),
  h("div", { class: "field" }, h("label", { for: "new-shared", class: "inline" }, shared, " Shared: every console user sees it (only you and admins edit it)")),
  button, status);
  replace(main,
    h("h1", {}, "Dashboards"),
    h("p", { class: "muted" }, `Your own dashboards and the shared ones. Each holds up to ${limits.maxPanels} panels of the figures the fixed pages show; you may keep ${limits.maxPerOwner} (you can edit ${num(mine)} of these).`),
    table([
      { label: "Title", value: (/** @type {Board} */ d) => h("a", { href: `/dashboards/${encodeURIComponent(d.dashboardId)}`, "data-nav": true }, d.title), sort: (d) => d.title.toLowerCase() },
      { label: "Sharing", value: (d) => (d.shared ? "shared" : "private"), sort: (d) => d.shared },
      { label: "Owner", value: (d) => d.owner, sort: (d) => d.owner },
      { label: "Panels", value: (d) => num(d.panels.length), num: true, sort: (d) => d.panels.length },
      { label: "Changed", value: (d) => when(d.updatedAt), sort: (d) => d.updatedAt },
      { label: "You may", value: (d) => (d.editable ? "edit" : "view") },
    ], body.dashboards, { label: "Dashboards", empty: "No dashboard yet: create one below." }),
    form);
}
