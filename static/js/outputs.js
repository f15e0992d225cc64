// The Output panel: one tab per view that the catalog lists for the data's task and kind, each tab
// showing a region named after its view. Snapshots are routed by kind to their view's renderer
// (views/registry.js); which views exist is the catalog's business, how each draws its module's.

import { $, el, setText } from "./dom.js";
import { seedsOf } from "./protocol.js";
import { viewFor } from "./views/index.js";

/** tabs: the tablist element; body: where the views' regions go; none: the note when none applies. */
export function createOutputs({ tabs, body, none }, { catalog, ctx }) {
  const instances = new Map(); // renderer key (entry.shares) -> {slot, view}
  const tasks = Object.fromEntries(catalog.tasks.map((t) => [t.name, t]));
  let shown = []; // [{key, title}] of the current data, in the catalog's order
  let selected = null;

  function instance(entry) {
    if (!instances.has(entry.shares)) {
      const slot = entry.tab ? el("section", { class: "view-slot", dataset: { view: entry.shares } }) : null;
      if (slot) {
        slot.hidden = true;
        body.append(slot);
      }
      instances.set(entry.shares, { slot, view: entry.create(slot, ctx) });
    }
    return instances.get(entry.shares);
  }

  /** The views of a task on data of this kind: those whose data kinds include it, once per renderer. */
  function viewsOf(task, kind) {
    const out = [];
    for (const v of (tasks[task] || { views: [] }).views) {
      const entry = viewFor(v.kind);
      if (!entry || !entry.tab || (v.data_kinds.length && !v.data_kinds.includes(kind))) continue;
      if (!out.some((o) => o.key === entry.shares)) out.push({ key: entry.shares, title: v.title, entry });
    }
    return out;
  }

  function select(key) {
    selected = key;
    for (const [k, { slot }] of instances) if (slot) slot.hidden = k !== key || !shown.some((s) => s.key === k);
    tabs.querySelectorAll("[role=tab]").forEach((t) => {
      const on = t.dataset.view === key;
      t.setAttribute("aria-selected", String(on));
      t.tabIndex = on ? 0 : -1;
    });
  }

  function onKey(e) {
    const i = shown.findIndex((s) => s.key === selected);
    const step = { ArrowRight: 1, ArrowLeft: -1 }[e.key];
    if (step === undefined || i < 0) return;
    const next = shown[(i + step + shown.length) % shown.length].key;
    select(next);
    tabs.querySelector(`[data-view="${next}"]`).focus();
  }

  function build(views) {
    shown = views;
    tabs.replaceChildren(...views.map((v) => el("button", {
      class: "tab", text: v.title, dataset: { view: v.key },
      attrs: { type: "button", role: "tab", "aria-controls": `view-${v.key}` },
      on: { click: () => select(v.key), keydown: onKey },
    })));
    for (const v of views) {
      const { slot } = instance(v.entry);
      slot.id = `view-${v.key}`;
      slot.setAttribute("aria-label", v.title);
    }
    none.hidden = views.length > 0;
    select(views.some((v) => v.key === selected) ? selected : views.length ? views[0].key : null);
  }

  return {
    /** The data preview (/api/data/preview): it decides the tabs, and the views that draw the data get it. */
    setData(preview) {
      build(viewsOf(preview.task, preview.kind));
      // New data: each view starts from the data alone (speccheck.js puts a run's snapshots back
      // when the data is that run's). The weights follow the model instead, so they stay.
      for (const [key, { view }] of instances) {
        if (view.setData) view.setData(preview);
        else if (viewFor(key).tab) view.setSnapshot(null);
      }
    },
    /** One snapshot message, to its kind's view (a kind this page has no module for is ignored). */
    set(snap) {
      const entry = viewFor(snap.kind);
      if (entry) instance(entry).view.setSnapshot(snap);
    },
    /** Every snapshot of a run (a run re-opened, or data edited back to a run's). */
    setAll(snaps) {
      for (const s of snaps) this.set(s);
    },
    /** No run on show: every view goes back to the data alone. */
    clear() {
      for (const { view } of instances.values()) view.setSnapshot(null);
    },
    /** An ensemble's views are of member 0 (the run of its seed, whose weights it saves); say so. */
    setEnsemble(run) {
      const note = $("#output-ensemble");
      const k = run ? seedsOf(run.spec) : 1;
      note.hidden = k <= 1;
      setText(note, k > 1 ? `These views show member 0 of the ensemble of ${k}: the run of seed ${run.spec.training.seed}, `
        + "whose weights are saved and exported. The charts show all members' mean and spread." : "");
    },
    /** Which view tab is showing (tests and scripts read it). */
    get selected() { return selected; },
  };
}
