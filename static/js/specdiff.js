// Which spec fields differ between runs: specs flattened to JSON paths ("training.lr",
// "model.layers[1].units"), then compared path by path. A path that one spec lacks differs.

import { isObject } from "./spec.js";

const isScalar = (x) => x === null || typeof x !== "object";

/**
 * {path: value} for every leaf. Lists of objects (layers) go item by item; lists of scalars (the
 * feature columns) are one value, as a reader compares them.
 */
export function flatten(value, prefix = "", out = {}) {
  if (isObject(value)) {
    const keys = Object.keys(value);
    if (!keys.length && prefix) out[prefix] = {};
    for (const k of keys) flatten(value[k], prefix ? `${prefix}.${k}` : k, out);
  } else if (Array.isArray(value) && !value.every(isScalar)) {
    if (!value.length) out[prefix] = [];
    value.forEach((item, i) => flatten(item, `${prefix}[${i}]`, out));
  } else {
    out[prefix] = value;
  }
  return out;
}

/** A path's value as text: JSON, or "—" when the spec lacks it. */
export const showValue = (v) => (v === undefined ? "—" : typeof v === "string" ? v : JSON.stringify(v));

/**
 * Rows for a comparison table: [{path, values: [per spec], differs}] over the union of paths,
 * in the order they first appear.
 */
export function compareSpecs(specs) {
  const flat = specs.map((s) => flatten(s));
  const paths = [];
  const seen = new Set();
  for (const f of flat) {
    for (const p of Object.keys(f)) {
      if (!seen.has(p)) {
        seen.add(p);
        paths.push(p);
      }
    }
  }
  return paths.map((path) => {
    const values = flat.map((f) => f[path]);
    const keys = values.map((v) => (v === undefined ? undefined : JSON.stringify(v)));
    return { path, values, differs: keys.some((k) => k !== keys[0]) };
  });
}
