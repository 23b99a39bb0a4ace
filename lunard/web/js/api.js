// The one API client: same-origin fetch with the `auth_token` session cookie (HttpOnly,
// set by POST /api/auth/login). The key itself is never stored by the dashboard.

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.name = "ApiError";
    this.status = status;
  }
}

const LOGIN_PATH = "/api/auth/login";

export function apiUrl(path) {
  return new URL(path, window.location.origin).toString();
}

function toLogin() {
  const current = m.route.get() || "";
  if (current.startsWith("/login")) return;
  const next = current && current !== "/" ? {next: current} : {};
  m.route.set("/login", next);
}

async function parse(response) {
  const text = await response.text();
  if (!text) return null;
  const type = response.headers.get("content-type") || "";
  if (type.includes("json")) {
    try { return JSON.parse(text); } catch { return text; }
  }
  return text;
}

// `api(method, path, body?)` -> parsed JSON (text for non-JSON, null when empty).
// Throws ApiError with the server's `{"error"}` message; a 401 (but the login call's) goes
// to the login page.
export async function api(method, path, body) {
  const init = {method, credentials: "same-origin", headers: {Accept: "application/json"}};
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (err) {
    throw new ApiError(0, err.message || "Network error");
  }
  const data = await parse(response);
  if (response.ok) return data;
  const message = (data && typeof data === "object" && data.error) ||
    (typeof data === "string" && data.trim()) || response.statusText || `HTTP ${response.status}`;
  if (response.status === 401 && path !== LOGIN_PATH) toLogin();
  throw new ApiError(response.status, message);
}

export function pageQuery(limit, offset) {
  return `limit=${encodeURIComponent(limit)}&offset=${encodeURIComponent(offset)}`;
}
