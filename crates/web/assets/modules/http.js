// Requests from the page: the REST API under /api/v1 and the page's own
// endpoints (/ui/...), with the session cookie. A 401 sends the person to the
// sign-in page and back; any other failure throws an ApiError carrying the
// problem+json (RFC 9457) the server answered with.

export class ApiError extends Error {
  constructor(status, problem) {
    super(problem?.detail || problem?.title || `request failed (${status})`);
    this.status = status;
    this.problem = problem;
  }
}

function signedOut() {
  location.href = '/login?next=' + encodeURIComponent(location.pathname + location.search);
  return new ApiError(401, { detail: 'signed out' });
}

/** Sends `body` as JSON (or a FormData as it is) and answers the parsed JSON, null for none. */
async function json(method, url, body, headers) {
  const init = { method, credentials: 'same-origin', headers: { Accept: 'application/json', ...headers } };
  if (body instanceof FormData) {
    init.body = body;
  } else if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const res = await fetch(url, init);
  if (res.status === 401) throw signedOut();
  let data = null;
  if (res.status !== 204) {
    try { data = await res.json(); } catch { data = null; }
  }
  if (!res.ok) throw new ApiError(res.status, data);
  return data;
}

/** A call to the REST API: `api('PATCH', '/tasks/1', { title })`. */
export function api(method, path, body, headers = {}) {
  return json(method, '/api/v1' + path, body, headers);
}

/** POSTs JSON to one of the page's own endpoints (/ui/...); errors as from `api`. */
export function postJson(url, body) {
  return json('POST', url, body, {});
}

/** A rendered page or fragment, as text. */
export async function html(url, init = {}) {
  const res = await fetch(url, { credentials: 'same-origin', ...init, headers: { Accept: 'text/html', ...(init.headers || {}) } });
  if (res.status === 401) throw signedOut();
  if (!res.ok) throw new ApiError(res.status, null);
  return res.text();
}
