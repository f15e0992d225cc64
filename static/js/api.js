// REST calls. Every call resolves to {ok, status, data, errors}; none throws on an HTTP error, so
// a 422 becomes errors shown on the page and a lost server becomes a message, never an alert().

import { API } from "./protocol.js";

const UNREACHABLE = [{ path: "$", message: "Cannot reach the Layerlab server. Is it still running?" }];

async function request(method, url, body) {
  let res;
  try {
    res = await fetch(url, {
      method,
      headers: body === undefined ? {} : { "Content-Type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
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

export const api = {
  health: () => request("GET", API.health),
  catalog: () => request("GET", API.catalog),
  async validate(spec) {
    const res = await request("POST", API.validate, spec);
    // Errors may also come as a 200 report ({"errors": [...]}), which Chromium does not log as a
    // failed request while someone edits an invalid stack; both read the same here.
    if (res.ok && res.data && Array.isArray(res.data.errors) && res.data.errors.length) {
      return { ok: false, status: 422, data: res.data, errors: res.data.errors };
    }
    return res;
  },
  preview: (data, task) => request("POST", API.preview, task ? { data, task } : { data }),
  createRun(spec, { label, parent } = {}) {
    const q = new URLSearchParams();
    if (label) q.set("label", label);
    if (parent) q.set("parent", parent);
    const qs = q.toString();
    return request("POST", qs ? `${API.runs}?${qs}` : API.runs, spec);
  },
  getRun: (id) => request("GET", API.run(id)),
  control: (id, frame) => request("POST", API.control(id), frame),
};
