// The sessions this browser owns: {id, token} pairs in localStorage, newest first. An edit token
// is shown once by the server and never again, so this list is the only key to a session.

const KEY = "layerlab.sessions.v1";
const MAX_KEPT = 100; // POST /api/sessions/lookup takes at most 100 pairs

function read() {
  try {
    const list = JSON.parse(localStorage.getItem(KEY) || "[]");
    return Array.isArray(list) ? list.filter((x) => x && typeof x.id === "string" && typeof x.token === "string") : [];
  } catch {
    return [];
  }
}

function write(list) {
  try {
    localStorage.setItem(KEY, JSON.stringify(list.slice(0, MAX_KEPT)));
  } catch {
    // storage full or disabled: the session still works in this tab
  }
}

export const kept = () => read();

export function tokenFor(id) {
  const found = read().find((x) => x.id === id);
  return found ? found.token : null;
}

/** Remember a session (moved to the front: the most recently used first). */
export function keep(id, token) {
  write([{ id, token }, ...read().filter((x) => x.id !== id)]);
}

export function forget(id) {
  write(read().filter((x) => x.id !== id));
}

/** Keep only the sessions the server still opens with their token (a lookup's answer). */
export function keepOnly(ids) {
  const alive = new Set(ids);
  write(read().filter((x) => alive.has(x.id)));
}
