// Debounced autosave: edits are merged and sent once the page has been quiet for `delay` ms, one
// request at a time and in order. A failed save keeps its changes for the next attempt.

import { errorText } from "./api.js";

export const SAVE = Object.freeze({ DIRTY: "dirty", SAVING: "saving", SAVED: "saved", FAILED: "failed" });

/** send(changes, {keepalive}) -> {ok, errors}; onState(state, message) follows every step. */
export function createAutosave({ delay, send, onState }) {
  let pending = null;
  let timer = null;
  let inflight = null;

  function queue(changes) {
    pending = { ...(pending || {}), ...changes };
    onState(SAVE.DIRTY);
    clearTimeout(timer);
    timer = setTimeout(flush, delay);
  }

  async function flush() {
    clearTimeout(timer);
    timer = null;
    while (inflight) await inflight;
    if (!pending) return true;
    const changes = pending;
    pending = null;
    onState(SAVE.SAVING);
    inflight = send(changes, { keepalive: false });
    const res = await inflight;
    inflight = null;
    if (!res.ok) {
      pending = { ...changes, ...(pending || {}) };
      onState(SAVE.FAILED, errorText(res));
      return false;
    }
    onState(pending ? SAVE.DIRTY : SAVE.SAVED);
    return true;
  }

  /** The page is going away: send what is left with keepalive, without waiting. */
  function flushNow() {
    clearTimeout(timer);
    timer = null;
    if (!pending) return;
    send(pending, { keepalive: true });
    pending = null;
  }

  function cancel() {
    clearTimeout(timer);
    timer = null;
    pending = null;
  }

  return { queue, flush, flushNow, cancel };
}
