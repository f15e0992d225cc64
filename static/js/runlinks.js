// The page's lines to its runs: one websocket per run followed, and the controls (pause, stop,
// a live learning rate…) sent over it, or over REST while it is down. It keeps only the open
// streams; the run records and what their messages change stay with main.js.

import { api, errorText } from "./api.js";
import { API, streamProtocols } from "./protocol.js";
import { openStream } from "./socket.js";

/**
 * editToken(): the open session's token (or null), which steers its runs. on: {open(run) as the
 * server starts replaying the run, message(run, msg), giveUp(run), refused(text) for a control the
 * server turned down}.
 */
export function createRunLinks({ editToken, on }) {
  const streams = new WeakMap(); // run record -> its stream, open or not

  /** Follow `run`, again if it was followed (with the token that now steers it, say). */
  function connect(run) {
    close(run);
    streams.set(run, openStream(API.stream(run.id), streamProtocols(editToken()), {
      onOpen: () => on.open(run),
      onMessage: (msg) => on.message(run, msg),
      onGiveUp: () => on.giveUp(run),
    }));
  }

  /** Stop following `run`. */
  function close(run) {
    const stream = streams.get(run);
    if (stream) stream.close();
  }

  /** Send `action` (with `extra` fields) to `run`: over its stream if it is open, else over REST. */
  function control(run, action, extra = {}) {
    const frame = { action, ...extra };
    const stream = streams.get(run);
    if (stream && stream.send(frame)) return;
    api.control(run.id, frame, editToken()).then((res) => {
      if (!res.ok && res.status !== 409) on.refused(errorText(res));
    });
  }

  return { connect, close, control };
}
