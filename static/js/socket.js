// One websocket per run, reconnecting with backoff. The server replays the run's history on
// every connect, so `onOpen` tells the caller to drop what it had before the replay arrives.

const MAX_BACKOFF_MS = 5000;
const MAX_ATTEMPTS = 8;
// Close codes after which reconnecting cannot help: normal closure and the app's 4xxx codes
// (e.g. an unknown run).
const FINAL = (code) => code === 1000 || (code >= 4000 && code < 5000);

/** Open `path` (e.g. /api/runs/abc/stream) offering `protocols` (Sec-WebSocket-Protocol values);
 * returns {send(frame) -> bool, close()}. */
export function openStream(path, protocols, { onOpen, onMessage, onGiveUp }) {
  const url = `${location.protocol === "https:" ? "wss:" : "ws:"}//${location.host}${path}`;
  let ws = null;
  let closed = false;
  let attempts = 0;
  let timer = null;

  function connect() {
    ws = new WebSocket(url, protocols);
    ws.addEventListener("open", () => {
      attempts = 0;
      if (onOpen) onOpen();
    });
    ws.addEventListener("message", (event) => {
      let msg;
      try {
        msg = JSON.parse(event.data);
      } catch {
        return; // not ours to act on; the server only sends JSON
      }
      onMessage(msg);
    });
    ws.addEventListener("close", (event) => {
      if (closed) return;
      if (FINAL(event.code) || attempts >= MAX_ATTEMPTS) {
        closed = true;
        if (onGiveUp) onGiveUp(event);
        return;
      }
      attempts += 1;
      timer = setTimeout(connect, Math.min(MAX_BACKOFF_MS, 250 * 2 ** attempts));
    });
  }
  connect();

  return {
    send(frame) {
      if (!ws || ws.readyState !== WebSocket.OPEN) return false;
      ws.send(JSON.stringify(frame));
      return true;
    },
    close() {
      closed = true;
      clearTimeout(timer);
      if (ws && ws.readyState <= WebSocket.OPEN) ws.close(1000);
    },
  };
}
