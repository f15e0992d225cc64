// The spec lives in the URL hash (#spec=<base64url JSON>), so a reload keeps the work and a
// copied link reproduces the setup. replaceState keeps the back button for real navigation.

const KEY = "spec";

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

/** The spec in the hash, or null when there is none or it cannot be read. */
export function readSpec() {
  const params = new URLSearchParams(location.hash.slice(1));
  const raw = params.get(KEY);
  if (!raw) return null;
  try {
    const spec = JSON.parse(fromBase64Url(raw));
    return spec && typeof spec === "object" && !Array.isArray(spec) ? spec : null;
  } catch {
    return null;
  }
}

export function writeSpec(spec) {
  const params = new URLSearchParams(location.hash.slice(1));
  params.set(KEY, toBase64Url(JSON.stringify(spec)));
  history.replaceState(null, "", `${location.pathname}${location.search}#${params.toString()}`);
}
