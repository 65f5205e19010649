// @ts-check
// Links from a figure to the generations behind it: the Generations page with the figure's
// window (a chart bucket's own minutes) and filters in its query string.

import { h } from "../ui.js";

/** @type {Record<string, number>} */
const BUCKET_SECONDS = { minute: 60, hour: 3600, day: 86400 };

/**
 * The Generations page's URL for these filters (empty values left out).
 * @param {Record<string, string | null | undefined>} filters window, from, to, provider, status, errorCode
 * @returns {string}
 */
export function generationsHref(filters) {
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(filters)) {
    if (value !== null && value !== undefined && value !== "") query.set(key, value);
  }
  return `/generations?${query}`;
}

/**
 * A link to the generations behind a figure.
 * @param {import("../ui.js").Child} text
 * @param {Record<string, string | null | undefined>} filters
 * @param {string} [label] the link's accessible name when the text alone does not say it
 */
export function generationsLink(text, filters, label) {
  return h("a", { href: generationsHref(filters), class: "drill", "aria-label": label || null }, text);
}

/**
 * The window of one trend bucket: from its start, one bucket long.
 * @param {string} start
 * @param {string} granularity minute, hour or day
 * @returns {{ from: string, to: string }}
 */
export function bucketWindow(start, granularity) {
  const from = new Date(Date.parse(start));
  const to = new Date(from.getTime() + (BUCKET_SECONDS[granularity] || 3600) * 1000);
  const iso = (/** @type {Date} */ d) => d.toISOString().replace(".000Z", "Z");
  return { from: iso(from), to: iso(to) };
}

/**
 * Where each bucket of a chart leads: the Generations page over that bucket's minutes, with
 * the given filters (a provider, a status).
 * @param {string} granularity
 * @param {Record<string, string | null | undefined>} filters
 * @returns {(start: string) => string}
 */
export function bucketDrill(granularity, filters) {
  return (start) => generationsHref({ ...bucketWindow(start, granularity), ...filters });
}
