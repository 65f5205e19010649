// The dashboard API on the console's own origin (/api/**). Every call carries the user's ID token;
// the SDK's getIdToken() returns a fresh one once the current one is within five minutes of expiry.

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

let tokenSource = null;
let calls = 0;

export function setTokenSource(source) {
  tokenSource = source;
}

export function callCount() {
  return calls;
}

async function request(method, path, params, body) {
  const url = new URL(`/api${path}`, location.origin);
  for (const [key, value] of Object.entries(params || {})) {
    if (value !== undefined && value !== null && value !== "") url.searchParams.set(key, value);
  }
  const headers = {};
  if (tokenSource) headers.Authorization = `Bearer ${await tokenSource()}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  calls += 1;
  let response;
  try {
    response = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (error) {
    throw new ApiError(0, "unavailable", `The API did not answer (${error.message}).`);
  }
  return response;
}

async function failure(response) {
  let code = "internal";
  let text = `HTTP ${response.status}`;
  try {
    const body = await response.json();
    code = body.error?.code || code;
    text = body.error?.message || text;
  } catch {
    // not JSON: keep the status line
  }
  return new ApiError(response.status, code, text);
}

export async function get(path, params) {
  const response = await request("GET", path, params);
  if (!response.ok) throw await failure(response);
  return response.json();
}

export async function send(method, path, body) {
  const response = await request(method, path, {}, body);
  if (!response.ok) throw await failure(response);
  return response.json();
}

// A file from /export, saved under the name the API gives it; a window too large for one request
// is a 202 naming a background job instead ({ job }).
export async function download(params) {
  const response = await request("GET", "/export", params);
  if (!response.ok) throw await failure(response);
  if (response.status === 202) return { job: await response.json() };
  const disposition = response.headers.get("Content-Disposition") || "";
  const name = /filename="([^"]+)"/.exec(disposition)?.[1] || "export";
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
