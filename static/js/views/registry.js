// The page's view registry: one ES module per snapshot kind registers a renderer here, and the
// Output panel (outputs.js) builds a tab for each view the catalog lists for the task. Nothing
// else names a view kind.

const VIEWS = new Map();

/**
 * registerView(kind, {title, create(slot, ctx) -> {setData?, setSnapshot}, tab = true, shares = null})
 * title: the tab's text and the region's accessible name. tab: false for a view drawn elsewhere
 * (the weights, on the network diagram). shares: the kind whose renderer this one uses (boundary,
 * surface and curve are one picture of the data).
 */
export function registerView(kind, { title, create, tab = true, shares = null }) {
  if (VIEWS.has(kind)) throw new Error(`view ${kind} is already registered`);
  VIEWS.set(kind, { kind, title, create, tab, shares: shares || kind });
}

/** The renderer of a kind, or null for a kind this page has no module for. */
export function viewFor(kind) {
  return VIEWS.get(kind) || null;
}

export function viewKinds() {
  return [...VIEWS.keys()];
}
