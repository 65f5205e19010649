// @ts-check
// The dashboard API on the console's own origin (/api/**). Every call carries the user's ID token;
// the SDK's getIdToken() returns a fresh one once the current one is within five minutes of expiry.
// Paths are openapi.yaml's (`/alerts/{alertId}`): a parameter whose name is in the path fills it,
// the others go in the query string; the answer has the type contract.js gives that path.

/** @import { GetResponses, PostResponses, PutResponses } from "./contract.js" */
/** @typedef {Record<string, string | number | boolean | null | undefined>} Params */

export class ApiError extends Error {
  /**
   * @param {number} status
   * @param {string} code
   * @param {string} message
   */
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** @type {(() => Promise<string>) | null} */
let tokenSource = null;
let calls = 0;

/** @param {() => Promise<string>} source */
export function setTokenSource(source) {
  tokenSource = source;
}

export function callCount() {
  return calls;
}

/**
 * The URL of an API path with its parameters.
 * @param {string} path
 * @param {Params} params
 */
function apiUrl(path, params) {
  const rest = { ...params };
  const filled = path.replace(/\{(\w+)\}/g, (_, name) => {
    const value = rest[name];
    delete rest[name];
    if (value === undefined || value === null) throw new Error(`${path}: no value for ${name}`);
    return encodeURIComponent(String(value));
  });
  const url = new URL(`/api${filled}`, location.origin);
  for (const [key, value] of Object.entries(rest)) {
    if (value !== undefined && value !== null && value !== "") url.searchParams.set(key, String(value));
  }
  return url;
}

/**
 * @param {string} method
 * @param {URL} url
 * @param {unknown} [body]
 * @param {number[]} [answers] error statuses whose body is an answer, not a failure
 */
async function request(method, url, body, answers = []) {
  /** @type {Record<string, string>} */
  const headers = {};
  if (tokenSource) headers.Authorization = `Bearer ${await tokenSource()}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  calls += 1;
  let response;
  try {
    response = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (error) {
    throw new ApiError(0, "unavailable", `The API did not answer (${error instanceof Error ? error.message : error}).`);
  }
  if (!response.ok && !answers.includes(response.status)) throw await failure(response);
  return response;
}

/** @param {Response} response */
async function failure(response) {
  let code = "internal";
  let text = `HTTP ${response.status}`;
  try {
    /** @type {Partial<import("./contract.js").ErrorBody>} */
    const body = await response.json();
    code = body.error?.code || code;
    text = body.error?.message || text;
  } catch {
    // not JSON: keep the status line
  }
  return new ApiError(response.status, code, text);
}

/**
 * @template {keyof GetResponses} P
 * @param {P} path
 * @param {Params} [params]
 * @returns {Promise<GetResponses[P]>}
 */
export async function get(path, params = {}) {
  return (await request("GET", apiUrl(path, params))).json();
}

/**
 * GET /health: its body whether the monitor is healthy (200) or degraded (503).
 * @returns {Promise<GetResponses["/health"]>}
 */
export async function health() {
  return (await request("GET", apiUrl("/health", {}), undefined, [503])).json();
}

/**
 * @template {keyof PostResponses} P
 * @param {P} path
 * @param {Params} params the path's parameters
 * @param {unknown} body
 * @returns {Promise<PostResponses[P]>}
 */
export async function post(path, params, body) {
  return (await request("POST", apiUrl(path, params), body)).json();
}

/**
 * @template {keyof PutResponses} P
 * @param {P} path
 * @param {Params} params the path's parameters
 * @param {unknown} body
 * @returns {Promise<PutResponses[P]>}
 */
export async function put(path, params, body) {
  return (await request("PUT", apiUrl(path, params), body)).json();
}

/**
 * A DELETE (its answer, a 204, has no body).
 * @param {string} path
 * @param {Params} params the path's parameters
 */
export async function del(path, params) {
  await request("DELETE", apiUrl(path, params));
}

/**
 * A file from /export, saved under the name the API gives it; a window too large for one request
 * is a 202 naming a background job instead ({ job }).
 * @param {Params} params
 */
export async function download(params) {
  const response = await request("GET", apiUrl("/export", params));
  if (response.status === 202) return { job: await response.json() };
  const { name, bytes } = await save(response, "export");
  return { name, bytes };
}

/**
 * A review from /reports (a PDF), saved under the name the API gives it.
 * @param {{ period: "monthly" | "quarterly", from: string }} params
 */
export async function downloadReview(params) {
  return save(await request("GET", apiUrl("/reports", params)), "review.pdf");
}

/**
 * A file answer saved by the browser under its Content-Disposition name (or `fallback`).
 * @param {Response} response
 * @param {string} fallback
 */
async function save(response, fallback) {
  const disposition = response.headers.get("Content-Disposition") || "";
  const name = /filename="([^"]+)"/.exec(disposition)?.[1] || fallback;
  const blob = await response.blob();
  const link = document.createElement("a");
  link.href = URL.createObjectURL(blob);
  link.download = name;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
  return { name, bytes: blob.size };
}
