// REST calls. Every call resolves to {ok, status, data, errors}; none throws on an HTTP error, so
// a 422 becomes errors shown on the page and a lost server becomes a message, never an alert().

import { API } from "./protocol.js";

const UNREACHABLE = [{ path: "$", message: "Cannot reach the Layerlab server. Is it still running?" }];

/**
 * opts: json (a body sent as JSON), raw (a Blob or File sent as it is), token (a session's edit
 * token, as Authorization: Bearer), keepalive (the request may outlive the page).
 */
async function request(method, url, { json, raw, token, keepalive = false } = {}) {
  const headers = {};
  if (json !== undefined) headers["Content-Type"] = "application/json";
  if (raw !== undefined) headers["Content-Type"] = "text/csv";
  if (token) headers.Authorization = `Bearer ${token}`;
  let res;
  try {
    res = await fetch(url, {
      method, headers, keepalive, body: json !== undefined ? JSON.stringify(json) : raw,
    });
  } catch {
    return { ok: false, status: 0, data: null, errors: UNREACHABLE };
  }
  let data = null;
  try {
    data = await res.json();
  } catch {
    data = null;
  }
  if (res.ok) return { ok: true, status: res.status, data, errors: [] };
  return { ok: false, status: res.status, data, errors: errorsOf(res, data) };
}

/** 422 bodies carry {"errors": [...]}; others {"detail": "..."}. */
function errorsOf(res, data) {
  if (data && Array.isArray(data.errors)) return data.errors;
  const detail = data && data.detail;
  const message = typeof detail === "string" ? detail : `The server answered ${res.status} ${res.statusText}`.trim();
  return [{ path: "$", message }];
}

/** Errors that come as a 200 report ({"errors": [...]}) read like a 422. Chromium logs every 4xx as a
 * console error, so the page asks for reports where it checks what a user is still editing. */
function reported(res) {
  if (res.ok && res.data && Array.isArray(res.data.errors) && res.data.errors.length) {
    return { ok: false, status: 422, data: res.data, errors: res.data.errors };
  }
  return res;
}

/** A failed call's errors as one line of text. */
export const errorText = (res) => res.errors.map((e) => e.message).join(" ");

function withQuery(url, params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (Array.isArray(v)) v.forEach((x) => q.append(k, x));
    else if (v !== null && v !== undefined && v !== "") q.set(k, String(v));
  }
  const qs = q.toString();
  return qs ? `${url}?${qs}` : url;
}

export const api = {
  health: () => request("GET", API.health),
  catalog: () => request("GET", API.catalog),
  /** Whether a lesson's claim showed in its runs (ids in the lesson's order, the try-next fork last). */
  lessonCheck: (id, runIds) => request("GET", API.lessonCheck(id, runIds)),
  validate: async (spec) => reported(await request("POST", API.validate, { json: spec })),
  /** The data's points; `where` is {session, token} or {share} for uploaded tables. */
  preview(data, task, where = {}) {
    const json = task ? { data, task } : { data };
    if (where.session) return request("POST", API.sessionPreview(where.session), { json, token: where.token });
    if (where.share) return request("POST", API.sharedPreview(where.share), { json });
    return request("POST", API.preview, { json });
  },
  /** A run, in the session when `session` ({id, token}) is given. */
  createRun(spec, { label, name, number, pace, parent, session } = {}) {
    const url = session ? API.sessionRuns(session.id) : API.runs;
    return request("POST", withQuery(url, { label, name, number, pace, parent }), { json: spec, token: session && session.token });
  },
  /** Rename a run (a session's run needs the session's edit token). */
  renameRun: (id, name, token) => request("PATCH", API.run(id), { json: { name }, token }),
  getRun: (id) => request("GET", API.run(id)),
  control: (id, frame, token) => request("POST", API.control(id), { json: frame, token }),
  /** An ended run's snapshots for validation example `index`, from its saved weights: {index, snapshots}. */
  pick: (id, index) => request("GET", API.pick(id, index)),

  // -- sessions -------------------------------------------------------------------------------
  createSession: (body) => request("POST", API.sessions, { json: body }),
  lookupSessions: (keys) => request("POST", API.lookup, { json: keys }),
  getSession: (id, token) => request("GET", API.session(id), { token }),
  patchSession: (id, token, changes, { keepalive = false } = {}) =>
    request("PATCH", API.session(id), { json: changes, token, keepalive }),
  deleteSession: (id, token) => request("DELETE", API.session(id), { token }),
  getShared: (share) => request("GET", API.shared(share)),
  fork: (share, title) => request("POST", API.fork(share), { json: title ? { title } : {} }),
  deleteUpload: (id, token, upload) => request("DELETE", API.upload(id, upload), { token }),
  /** Upload a CSV file; a bad file or column choice comes back as errors naming the row and column. */
  async upload(id, token, file, { features, target, task } = {}) {
    const url = withQuery(API.uploads(id), { filename: file.name, features, target, task, report: "true" });
    const res = reported(await request("POST", url, { raw: file, token }));
    if (res.status === 0) {
      // The server answers a file over its cap before reading it, and may close the connection.
      return { ...res, errors: [{ path: "file", message: "The upload failed: the file may be larger than the server accepts." }] };
    }
    return res;
  },
};
