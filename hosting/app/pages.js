// Which page a path shows. Page modules load when first visited.

import { h, replace } from "./ui.js";

const loaders = {
  overview: () => import("./pages/overview.js"),
  providers: () => import("./pages/providers.js"),
  quality: () => import("./pages/quality.js"),
  business: () => import("./pages/business.js"),
  users: () => import("./pages/users.js"),
  alerts: () => import("./pages/alerts.js"),
  alert: () => import("./pages/alert.js"),
  rules: () => import("./pages/rules.js"),
  exports: () => import("./pages/exports.js"),
};

const PATHS = {
  "/": "overview",
  "/providers": "providers",
  "/quality": "quality",
  "/business": "business",
  "/users": "users",
  "/alerts": "alerts",
  "/rules": "rules",
  "/exports": "exports",
};

function lazy(name) {
  return {
    title: (args) => ({ alert: `Alert ${args.alertId}` })[name] || name[0].toUpperCase() + name.slice(1),
    render: async (context) => (await loaders[name]()).render(context),
  };
}

const notFound = {
  title: () => "Not found",
  render: async ({ main }) => {
    replace(main, h("h1", {}, "Not found"),
      h("p", {}, `The console has no page at ${location.pathname}. `, h("a", { href: "/", "data-nav": true }, "Go to the overview.")));
  },
};

export function pageFor(path) {
  const clean = path.length > 1 ? path.replace(/\/+$/, "") : path;
  if (PATHS[clean]) return { name: PATHS[clean], page: lazy(PATHS[clean]), args: {} };
  const match = /^\/alerts\/([^/]+)$/.exec(clean);
  if (match) {
    let alertId;
    try {
      alertId = decodeURIComponent(match[1]);
    } catch {
      return { name: "notfound", page: notFound, args: {} }; // not a valid encoding
    }
    return { name: "alerts", page: lazy("alert"), args: { alertId } };
  }
  return { name: "notfound", page: notFound, args: {} };
}
