// Element helpers. User-visible text only ever goes in through textContent: nothing a user or
// the server sent is parsed as HTML.

/**
 * el("button", {class: "btn", on: {click: f}, attrs: {"aria-label": "Remove"}}, "×")
 * Keys: class, text, title, dataset, attrs (setAttribute), props (assigned), style ({property: value},
 * set through CSSOM: the page's CSP refuses style attributes, and a string assigned to .style is one), on
 * (listeners).
 */
export function el(tag, opts = {}, ...children) {
  const node = document.createElement(tag);
  if (opts.class) node.className = opts.class;
  if (opts.text !== undefined && opts.text !== null) node.textContent = String(opts.text);
  if (opts.title) node.title = opts.title;
  for (const [k, v] of Object.entries(opts.dataset || {})) node.dataset[k] = String(v);
  for (const [k, v] of Object.entries(opts.attrs || {})) {
    if (v !== undefined && v !== null && v !== false) node.setAttribute(k, v === true ? "" : String(v));
  }
  for (const [k, v] of Object.entries(opts.props || {})) node[k] = v;
  for (const [k, v] of Object.entries(opts.style || {})) node.style.setProperty(k, v);
  for (const [k, v] of Object.entries(opts.on || {})) node.addEventListener(k, v);
  append(node, ...children);
  return node;
}

/** Append nodes or strings (as text nodes); null and false are skipped. */
export function append(parent, ...children) {
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    parent.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return parent;
}

export function clear(node) {
  while (node.firstChild) node.removeChild(node.firstChild);
  return node;
}

/** document.querySelector that fails loudly when the page shell lacks an element. */
export function $(selector, root = document) {
  const node = root.querySelector(selector);
  if (!node) throw new Error(`missing element ${selector}`);
  return node;
}

export function setText(node, text) {
  const s = text === null || text === undefined ? "" : String(text);
  if (node.textContent !== s) node.textContent = s;
}

/** A function that calls `draw` on the next animation frame, at most once a frame however often it is called. */
export function frameScheduler(draw) {
  let queued = false;
  return function schedule() {
    if (queued) return;
    queued = true;
    requestAnimationFrame(() => {
      queued = false;
      draw();
    });
  };
}

/** A canvas sized to its CSS box at the device's pixel ratio; returns the 2-D context scaled to CSS px. */
export function fitCanvas(canvas) {
  const dpr = window.devicePixelRatio || 1;
  const w = Math.max(1, Math.round(canvas.clientWidth));
  const h = Math.max(1, Math.round(canvas.clientHeight));
  if (canvas.width !== Math.round(w * dpr) || canvas.height !== Math.round(h * dpr)) {
    canvas.width = Math.round(w * dpr);
    canvas.height = Math.round(h * dpr);
  }
  const ctx = canvas.getContext("2d");
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  return { ctx, w, h };
}

/** Numbers as a person reads them: 3 significant digits, no trailing noise. */
export function fmtNum(x, digits = 3) {
  if (x === null || x === undefined || !Number.isFinite(x)) return "–";
  if (x === 0) return "0";
  const a = Math.abs(x);
  if (a >= 1e5 || a < 1e-3) return x.toExponential(digits - 1).replace("e+", "e");
  return String(Number(x.toPrecision(digits)));
}

export function fmtShape(shape) {
  if (!shape) return "";
  return "(" + shape.join(", ") + (shape.length === 1 ? "," : "") + ")";
}

export function fmtInt(n) {
  return Number(n).toLocaleString("en-US");
}
