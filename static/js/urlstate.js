// The URL hash holds the page's work: #spec=<base64url JSON> (so a reload keeps it and a copied
// link reproduces the setup) and session=<id> for an open session (its edit token stays in
// localStorage, never in the URL). replaceState keeps the back button for real navigation.

const SPEC = "spec";
const SESSION = "session";

function toBase64Url(text) {
  const bytes = new TextEncoder().encode(text);
  let bin = "";
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function fromBase64Url(s) {
  const b64 = s.replace(/-/g, "+").replace(/_/g, "/");
  const bin = atob(b64 + "===".slice((b64.length + 3) % 4));
  return new TextDecoder().decode(Uint8Array.from(bin, (c) => c.charCodeAt(0)));
}

const params = () => new URLSearchParams(location.hash.slice(1));

function writeParams(p) {
  history.replaceState(null, "", `${location.pathname}${location.search}#${p.toString()}`);
}

/** The spec in the hash, or null when there is none or it cannot be read. */
export function readSpec() {
  const raw = params().get(SPEC);
  if (!raw) return null;
  try {
    const spec = JSON.parse(fromBase64Url(raw));
    return spec && typeof spec === "object" && !Array.isArray(spec) ? spec : null;
  } catch {
    return null;
  }
}

export function writeSpec(spec) {
  const p = params();
  p.set(SPEC, toBase64Url(JSON.stringify(spec)));
  writeParams(p);
}

export const readSession = () => params().get(SESSION);

/** Name the open session in the hash (null removes it). */
export function writeSession(id) {
  const p = params();
  if (id) p.set(SESSION, id);
  else p.delete(SESSION);
  writeParams(p);
}

/** The page's address for a session of this browser (what "Open" and "Fork" go to). */
export const sessionHref = (id) => `/#${SESSION}=${encodeURIComponent(id)}`;
