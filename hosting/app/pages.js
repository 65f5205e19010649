// @ts-check
// Every page of the console, in the navigation's order: its path, the name `main[data-ready]`
// says once it shows its figures (also the navigation entry marked current), its navigation
// label (none: not listed), its title and its module, loaded when first visited. A page module
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
  { path: "/generations", name: "generations", title: () => "Generations", load: () => import("./pages/generations.js") },
  { path: "/capacity", name: "capacity", nav: "Capacity", title: () => "Capacity", load: () => import("./pages/capacity.js") },
  { path: "/system", name: "system", nav: "System", title: () => "System", load: () => import("./pages/system.js") },
  { path: "/audit", name: "audit", nav: "Audit", adminOnly: true, title: () => "Audit log", load: () => import("./pages/audit.js") },
  { path: "/reports", name: "reports", nav: "Reports", title: () => "Reports", load: () => import("./pages/reports.js") },
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
 * The navigation bar's links, one per listed page (admin pages for admins only).
 * @param {"admin" | "analytics" | null} [role]
 * @returns {HTMLAnchorElement[]}
 */
export function navLinks(role = null) {
  return PAGES.filter((page) => page.nav && (!page.adminOnly || role === "admin")).map((page) =>
    h("a", { href: page.path, "data-nav": true, "data-page": page.name }, page.nav));
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
