// @ts-check
// Every page of the console, in the navigation's order: its path, the name `main[data-ready]`
// says once it shows its figures (also the navigation entry marked current), its navigation
// label (none: not listed), the menu it is listed under (none: on the bar itself), its title
// and its module, loaded when first visited. A page module
// exports `render(context)`, which may return a refresh function. Adding a page is one entry
// here and one module under pages/.

import { h, replace } from "./ui.js";

/**
 * What a page renders with.
 * @typedef {object} PageContext
 * @property {HTMLElement} main the page's view, shown once `render` has finished
 * @property {Record<string, string>} args the path's arguments (`:alertId`)
 * @property {URLSearchParams} params the query string: the page's state
 * @property {"admin" | "analytics"} role
 * @property {boolean} isAdmin
 * @property {(path: string, params?: URLSearchParams) => void} navigate
 */

/** @typedef {{ render: (context: PageContext) => Promise<(() => Promise<void>) | void> }} PageModule */

/**
 * @typedef {object} Page
 * @property {string} path `/alerts/:alertId`: a segment with a colon is an argument
 * @property {string} name
 * @property {string} [nav] its link's text in the navigation bar
 * @property {string} [group] the navigation menu that lists it ("More", "Admin"); none: the bar
 * @property {boolean} [adminOnly] listed in the navigation for admins only
 * @property {(args: Record<string, string>) => string} title
 * @property {() => Promise<PageModule>} load
 */

/** @type {ReadonlyArray<Page>} */
export const PAGES = Object.freeze([
  { path: "/", name: "overview", nav: "Overview", title: () => "Overview", load: () => import("./pages/overview.js") },
  { path: "/providers", name: "providers", nav: "Providers", title: () => "Providers", load: () => import("./pages/providers.js") },
  { path: "/quality", name: "quality", nav: "Quality", title: () => "Quality", load: () => import("./pages/quality.js") },
  { path: "/business", name: "business", nav: "Business", title: () => "Business", load: () => import("./pages/business.js") },
  { path: "/users", name: "users", nav: "Users", title: () => "Users", load: () => import("./pages/users.js") },
  { path: "/alerts", name: "alerts", nav: "Alerts", title: () => "Alerts", load: () => import("./pages/alerts.js") },
  { path: "/alerts/:alertId", name: "alerts", title: (/** @type {Record<string, string>} */ args) => `Alert ${args.alertId}`, load: () => import("./pages/alert.js") },
  { path: "/rules", name: "rules", nav: "Rules", title: () => "Rules", load: () => import("./pages/rules.js") },
  { path: "/exports", name: "exports", nav: "Exports", title: () => "Exports", load: () => import("./pages/exports.js") },
  { path: "/dashboards", name: "dashboards", nav: "Dashboards", title: () => "Dashboards", load: () => import("./pages/dashboards.js") },
  { path: "/dashboards/:dashboardId", name: "dashboards", title: (/** @type {Record<string, string>} */ args) => `Dashboard ${args.dashboardId}`, load: () => import("./pages/dashboard.js") },
  { path: "/generations", name: "generations", title: () => "Generations", load: () => import("./pages/generations.js") },
  { path: "/capacity", name: "capacity", nav: "Capacity", group: "More", title: () => "Capacity", load: () => import("./pages/capacity.js") },
  { path: "/system", name: "system", nav: "System", group: "More", title: () => "System", load: () => import("./pages/system.js") },
  { path: "/health", name: "health", nav: "Health", group: "More", title: () => "Health", load: () => import("./pages/health.js") },
  { path: "/objectives", name: "objectives", nav: "Objectives", group: "More", title: () => "Objectives", load: () => import("./pages/objectives.js") },
  { path: "/digests", name: "digests", nav: "Digests", group: "More", title: () => "Digests", load: () => import("./pages/digests.js") },
  { path: "/reports", name: "reports", nav: "Reports", group: "More", title: () => "Reports", load: () => import("./pages/reports.js") },
  { path: "/audit", name: "audit", nav: "Audit", group: "Admin", adminOnly: true, title: () => "Audit log", load: () => import("./pages/audit.js") },
  { path: "/erase", name: "erase", nav: "Erase a user", group: "Admin", adminOnly: true, title: () => "Erase a user", load: () => import("./pages/erase.js") },
]);

/** @type {Page} */
const NOT_FOUND = {
  path: "",
  name: "notfound",
  title: () => "Not found",
  load: async () => ({
    render: async ({ main }) => {
      replace(main, h("h1", {}, "Not found"),
        h("p", {}, `The console has no page at ${location.pathname}. `, h("a", { href: "/", "data-nav": true }, "Go to the overview.")));
    },
  }),
};

/**
 * The navigation bar: a link per listed page (admin pages for admins only), pages with a
 * `group` in a menu of that name, placed where its first page would be. A menu is a
 * <details> (Enter or Space opens it; Escape, a choice or a click elsewhere closes it).
 * @param {"admin" | "analytics" | null} [role]
 * @returns {HTMLElement[]}
 */
export function navLinks(role = null) {
  /** @type {HTMLElement[]} */
  const items = [];
  /** @type {Map<string, HTMLElement>} */
  const menus = new Map();
  for (const page of PAGES) {
    if (!page.nav || (page.adminOnly && role !== "admin")) continue;
    const link = h("a", { href: page.path, "data-nav": true, "data-page": page.name }, page.nav);
    if (!page.group) {
      items.push(link);
      continue;
    }
    let list = menus.get(page.group);
    if (!list) {
      list = h("div", { class: "menu" });
      menus.set(page.group, list);
      items.push(h("details", { class: "navgroup", "data-group": page.group },
        h("summary", {}, page.group), list));
    }
    list.append(link);
  }
  return items;
}

/**
 * Marks the navigation entry of the page `name` current, and the menu that lists it; closes
 * every menu.
 * @param {HTMLElement} nav
 * @param {string} name
 */
export function markCurrent(nav, name) {
  for (const link of nav.querySelectorAll("a")) {
    if (link.dataset.page === name) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  for (const menu of nav.querySelectorAll("details")) {
    menu.open = false;
    const summary = menu.querySelector("summary");
    if (!summary) continue;
    // The menu's label says it holds the current page (a screen reader hears it too).
    if (menu.querySelector("a[aria-current]")) summary.setAttribute("data-current", "");
    else summary.removeAttribute("data-current");
  }
}

/**
 * Closes the navigation's menus on Escape (the focus returns to the menu's label) and on a
 * click outside them; one menu is open at a time.
 * @param {HTMLElement} nav
 */
export function menuBehaviour(nav) {
  nav.addEventListener("toggle", (event) => {
    const opened = event.target;
    if (!(opened instanceof HTMLDetailsElement) || !opened.open) return;
    for (const menu of nav.querySelectorAll("details")) if (menu !== opened) menu.open = false;
  }, true);
  nav.addEventListener("keydown", (event) => {
    if (event.key !== "Escape" || !(event.target instanceof Element)) return;
    const menu = event.target.closest("details");
    if (!menu?.open) return;
    menu.open = false;
    menu.querySelector("summary")?.focus();
  });
  document.addEventListener("click", (event) => {
    for (const menu of nav.querySelectorAll("details")) {
      if (menu.open && (!(event.target instanceof Node) || !menu.contains(event.target))) menu.open = false;
    }
  });
}

/**
 * The page a path shows, with the path's arguments.
 * @param {string} path
 * @returns {{ page: Page, args: Record<string, string> }}
 */
export function pageFor(path) {
  const clean = path.length > 1 ? path.replace(/\/+$/, "") : path;
  const parts = clean.split("/");
  for (const page of PAGES) {
    const pattern = page.path.split("/");
    if (pattern.length !== parts.length) continue;
    /** @type {Record<string, string>} */
    const args = {};
    const matches = pattern.every((segment, i) => {
      if (!segment.startsWith(":")) return segment === parts[i];
      try {
        args[segment.slice(1)] = decodeURIComponent(parts[i]);
      } catch {
        return false; // not a valid encoding
      }
      return parts[i] !== "";
    });
    if (matches) return { page, args };
  }
  return { page: NOT_FOUND, args: {} };
}
