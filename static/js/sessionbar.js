// The session bar under the toolbar: the title, whether the work is saved, the notes, and the
// ways in and out (compare runs, import a spec file, my sessions). It draws what main.js tells it
// and reports edits; the saving itself is main.js's.

import { SAVE } from "./autosave.js";
import { setText } from "./dom.js";

/** The autosave's states (dirty, saving, saved, failed) and the two only the bar shows. */
export const SAVE_STATE = Object.freeze({
  ...SAVE,
  UNSAVED: "unsaved", // no session yet
  BLOCKED: "blocked", // the spec has problems, so only title and notes are saved
});

const TEXT = {
  [SAVE_STATE.UNSAVED]: "Not saved",
  [SAVE_STATE.DIRTY]: "Unsaved changes",
  [SAVE_STATE.SAVING]: "Saving…",
  [SAVE_STATE.SAVED]: "Saved",
  [SAVE_STATE.BLOCKED]: "Network not saved: fix the problems in red",
  [SAVE_STATE.FAILED]: "Not saved",
};
const TITLES = {
  [SAVE_STATE.UNSAVED]: "Press Save to keep this experiment, its runs and weights, and to get a share link.",
  [SAVE_STATE.SAVED]: "Title, notes and network are saved as you work; runs are saved as they train.",
};

/**
 * els: {title, state, readOnlyNote, notesButton, notesRow, notes, compare, importButton, importFile, sessions}.
 * on: {title(text), notes(text), compare(button), importFile(file), sessions(button)}.
 */
export function createSessionBar(els, { on }) {
  els.title.addEventListener("input", () => on.title(els.title.value));
  els.notes.addEventListener("input", () => on.notes(els.notes.value));
  els.notesButton.addEventListener("click", () => showNotes(els.notesRow.hidden));
  els.compare.addEventListener("click", () => on.compare(els.compare));
  els.sessions.addEventListener("click", () => on.sessions(els.sessions));
  els.importButton.addEventListener("click", () => els.importFile.click());
  els.importFile.addEventListener("change", () => {
    const file = els.importFile.files && els.importFile.files[0];
    els.importFile.value = ""; // the same file may be chosen again after a fix
    if (file) on.importFile(file);
  });

  function showNotes(open) {
    els.notesRow.hidden = !open;
    els.notesButton.setAttribute("aria-expanded", String(open));
    if (open && !els.notes.readOnly) els.notes.focus();
  }

  function setNotesLabel() {
    const n = els.notes.value.trim() ? " •" : "";
    setText(els.notesButton, `Notes${n}`);
  }

  return {
    /** The session's title and notes (a share link's are read-only); what is left out stays. */
    show({ title, notes, readOnly = els.title.readOnly }) {
      if (title !== undefined && document.activeElement !== els.title) els.title.value = title;
      if (notes !== undefined && document.activeElement !== els.notes) els.notes.value = notes;
      els.title.readOnly = readOnly;
      els.notes.readOnly = readOnly;
      els.readOnlyNote.hidden = !readOnly;
      els.state.hidden = readOnly;
      els.importButton.disabled = readOnly;
      els.importButton.title = readOnly ? "Fork first: a shared experiment cannot be changed"
        : "Load a spec file (.json) exported from Layerlab";
      setNotesLabel();
      if (readOnly && els.notes.value.trim()) showNotes(true);
    },
    setSaveState(state, detail = "") {
      els.state.dataset.state = state;
      setText(els.state, state === SAVE_STATE.FAILED && detail ? `Not saved: ${detail}` : TEXT[state]);
      els.state.title = TITLES[state] || detail || "";
      setNotesLabel();
    },
    title: () => els.title.value,
    notes: () => els.notes.value,
  };
}
