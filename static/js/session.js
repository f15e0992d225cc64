// Sessions from the page: Save (a session of this browser, its edit token kept in localStorage),
// autosave, Share, Fork, opening a session or a share link, My sessions, Compare, importing a
// spec and uploading a CSV. This module makes the requests and asks main.js (through `page`) to
// change the page's state; it keeps none of that state itself.

import { api, errorText } from "./api.js";
import { createAutosave } from "./autosave.js";
import { RUN_COLORS } from "./charts.js";
import { $ } from "./dom.js";
import { createSessionsDialog } from "./mysessions.js";
import { API, CSV_DATASET } from "./protocol.js";
import { savedRuns } from "./runs.js";
import { monitorOf } from "./metrics.js";
import { createSessionBar, SAVE_STATE } from "./sessionbar.js";
import { createShareDialog } from "./sharedialog.js";
import { clone, isObject, normalize, sameSpec } from "./spec.js";
import { forget, keep, keepOnly, kept, tokenFor } from "./tokens.js";
import { readSession, sessionHref, writeSession } from "./urlstate.js";

const AUTOSAVE_MS = 800;
const DEFAULT_TITLE = "Untitled";

/** Go to another page of this app; a change of the hash alone would not load it. */
function go(href) {
  if (location.pathname === "/") {
    history.replaceState(null, "", href);
    location.reload();
  } else {
    location.assign(href);
  }
}

/**
 * page: what main.js lets this module see and do: state (read only), views, notify, setSession,
 * setUploads, setCsvFile, useUpload, loadSpec, showSavedRuns, clearRuns.
 */
export function createSessionFlow(page) {
  const { state, views } = page;
  const buttons = { save: $("#btn-save"), share: $("#btn-share"), fork: $("#btn-fork") };
  let serverSpec = null; // the spec the server has for the open session
  let specBlocked = false; // the spec has problems, so the autosave leaves it out
  let saveState = SAVE_STATE.UNSAVED;
  let busy = false;
  let sharedGone = false; // the share link opened nothing: nothing to fork

  const bar = createSessionBar({
    title: $("#session-title"), state: $("#save-state"), readOnlyNote: $("#read-only-note"),
    notesButton: $("#btn-notes"), notesRow: $("#notes-row"), notes: $("#session-notes"),
    compare: $("#btn-compare"), importButton: $("#btn-import"), importFile: $("#import-file"), sessions: $("#btn-sessions"),
  }, {
    on: {
      title: (text) => edited({ title: text.trim() || DEFAULT_TITLE }),
      notes: (text) => edited({ notes: text }),
      compare,
      importFile: importSpec,
      sessions: (invoker) => sessionsDialog.open(invoker),
    },
  });
  const shareDialog = createShareDialog($("#share-dialog"));
  const sessionsDialog = createSessionsDialog($("#sessions-dialog"), {
    on: { list: listSessions, open: openFromList, rename, remove },
  });
  const autosave = createAutosave({
    delay: AUTOSAVE_MS,
    send: (changes, { keepalive }) => api.patchSession(state.session.id, state.session.token, changes, { keepalive }),
    onState: (s, detail) => drawSaveState(s, detail),
  });

  buttons.save.addEventListener("click", () => save());
  buttons.share.addEventListener("click", () => share(buttons.share));
  buttons.fork.addEventListener("click", forkSession);

  // -- drawing --------------------------------------------------------------------------------------
  function drawSaveState(s = saveState, detail = "") {
    saveState = s;
    let shown = s;
    if (!state.session) shown = SAVE_STATE.UNSAVED;
    else if (s === SAVE_STATE.SAVED && specBlocked) shown = SAVE_STATE.BLOCKED;
    bar.setSaveState(shown, detail);
    drawButtons();
  }

  function drawButtons() {
    const { save: saveBtn, share: shareBtn, fork: forkBtn } = buttons;
    saveBtn.disabled = state.readOnly || busy;
    saveBtn.title = state.readOnly ? "Fork this experiment to save your own copy"
      : state.session ? "Saved as you work; press to save now"
        : "Save this experiment with its runs and weights (and get a share link)";
    shareBtn.disabled = busy;
    shareBtn.title = state.session || state.shareToken ? "Show the read-only link to this experiment"
      : "Save, then get a read-only link to this experiment";
    const source = state.session ? state.session.shareToken : !sharedGone && state.shareToken;
    forkBtn.disabled = !source || busy;
    forkBtn.title = state.readOnly ? "Make an editable copy of your own, with every run, and train it"
      : state.session ? "Make a copy of this session to try something else" : "Save first: Fork copies a saved session";
    forkBtn.classList.toggle("btn-accent", state.readOnly && Boolean(source));
  }

  function setBusy(value) {
    busy = value;
    drawButtons();
  }

  /** A fork names where it came from, with a link to the source's share view. */
  function showSource(source) {
    const link = $("#forked-from");
    link.hidden = !source;
    if (!source) return;
    link.href = source.share_url;
    link.textContent = `Forked from “${source.title}”`;
  }

  function showTitle(title) {
    document.title = title ? `${title} · Layerlab` : "Layerlab: a neural-network playground";
  }

  // -- opening ----------------------------------------------------------------------------------------
  /** At start-up: a share link, or the session named in the URL if this browser keeps its token. */
  async function start({ specInUrl }) {
    drawSaveState();
    if (state.shareToken) return openShared();
    const id = readSession();
    if (!id) return undefined;
    const token = tokenFor(id);
    const found = token ? await api.lookupSessions([{ id, edit_token: token }]) : null;
    if (!token || !found.ok || !found.data.sessions.length) {
      writeSession(null);
      if (token && found.ok) forget(id);
      page.notify(!token ? "This browser has no key to edit that session; its share link shows it read-only."
        : found.ok ? "That session no longer exists: it was deleted." : errorText(found), "bad");
      return undefined;
    }
    const res = await api.getSession(id, token);
    if (!res.ok) {
      page.notify(`Could not open the session: ${errorText(res)}`, "bad");
      return undefined;
    }
    keep(id, token);
    const s = res.data;
    page.setSession({ id: s.id, token, shareToken: s.share_token, shareUrl: s.share_url });
    bar.show({ title: s.title, notes: s.notes });
    showTitle(s.title);
    showSource(s.forked_from);
    page.setUploads(s.uploads);
    if (s.spec && !specInUrl) page.loadSpec(s.spec);
    serverSpec = s.spec ? normalize(state.catalog, s.spec) : null;
    page.showSavedRuns(s.runs);
    drawSaveState(SAVE_STATE.SAVED);
    return undefined;
  }

  async function openShared() {
    const res = await api.getShared(state.shareToken);
    if (!res.ok) {
      sharedGone = res.status === 404;
      bar.show({ title: "Shared experiment", readOnly: true });
      views.diagnosis.showProblem("Nothing is shared under this link",
        res.status === 404 ? "It may have been deleted by its owner. The page shows a starting network instead."
          : errorText(res));
      drawButtons();
      return;
    }
    const s = res.data;
    bar.show({ title: s.title, notes: s.notes, readOnly: true });
    showTitle(s.title);
    page.setUploads(s.uploads);
    // A share link shows the network its latest run trained, not the owner's later edits: the
    // views of that run (its weights above all) then draw on the spec on screen (issue 13).
    const latest = s.runs.length ? s.runs[s.runs.length - 1] : null;
    if (latest || s.spec) page.loadSpec(latest ? latest.spec : s.spec);
    page.showSavedRuns(s.runs);
    drawButtons();
  }

  // -- saving -----------------------------------------------------------------------------------------
  function edited(changes) {
    if (changes.title) showTitle(changes.title);
    if (state.session && !state.readOnly) autosave.queue(changes);
  }

  /** validate() checked `spec`: the autosave sends it once it is valid and differs from the saved one. */
  function specChecked(spec, valid) {
    if (!state.session || state.readOnly) return;
    if (serverSpec && sameSpec(spec, serverSpec)) {
      specBlocked = false;
    } else if (valid) {
      specBlocked = false;
      serverSpec = clone(spec);
      autosave.queue({ spec: serverSpec });
      return;
    } else {
      specBlocked = true;
    }
    drawSaveState();
  }

  /** Save: a new session of this browser, with the runs on the page; then autosave takes over. */
  async function save() {
    if (state.readOnly) return false;
    if (state.session) {
      const ok = await autosave.flush();
      if (ok) page.notify("Saved.");
      return ok;
    }
    const body = {
      title: bar.title().trim() || DEFAULT_TITLE,
      notes: bar.notes(),
      runs: state.runs.filter((r) => !r.inSession).map((r) => r.id),
    };
    if (!state.errors.length && state.summary) body.spec = state.spec;
    setBusy(true);
    const res = await api.createSession(body);
    setBusy(false);
    if (!res.ok) {
      page.notify(`Could not save: ${errorText(res)}`, "bad");
      return false;
    }
    const s = res.data;
    keep(s.id, s.edit_token);
    writeSession(s.id);
    serverSpec = body.spec ? clone(body.spec) : null;
    specBlocked = !body.spec;
    page.setSession({ id: s.id, token: s.edit_token, shareToken: s.share_token, shareUrl: s.share_url });
    drawSaveState(SAVE_STATE.SAVED);
    page.notify(body.runs.length ? `Saved with ${body.runs.length} run${body.runs.length === 1 ? "" : "s"}. `
      + "Edits now save themselves." : "Saved. Runs now train in this session and edits save themselves.");
    return true;
  }

  async function share(invoker) {
    let url;
    if (state.session) {
      url = state.session.shareUrl;
      await autosave.flush(); // the link shows what is on the page now
    } else if (state.shareToken) {
      url = `${location.origin}${API.sharePage(state.shareToken)}`;
    } else if (await save()) {
      url = state.session.shareUrl;
    }
    if (url) shareDialog.open(url, invoker);
  }

  /** Fork: an editable copy of the session behind the share link (or of the open session). */
  async function forkSession() {
    const source = state.session ? state.session.shareToken : state.shareToken;
    if (!source) return;
    if (state.session) await autosave.flush();
    setBusy(true);
    // A copy is told apart by its title: "(copy)" of one's own session, "(fork)" of a share link's
    // (which kept the original's title, unmarked: issue 13); it links back to its source.
    const title = bar.title().trim() || DEFAULT_TITLE;
    const res = await api.fork(source, `${title} ${state.session ? "(copy)" : "(fork)"}`.slice(0, 200));
    setBusy(false);
    if (!res.ok) {
      page.notify(`Could not fork: ${errorText(res)}`, "bad");
      return;
    }
    keep(res.data.id, res.data.edit_token);
    go(sessionHref(res.data.id));
  }

  // -- my sessions -----------------------------------------------------------------------------------------
  async function listSessions() {
    const keys = kept();
    if (!keys.length) return { ok: true, sessions: [], current: null };
    const res = await api.lookupSessions(keys.map((k) => ({ id: k.id, edit_token: k.token })));
    if (!res.ok) return { ok: false, message: errorText(res) };
    keepOnly(res.data.sessions.map((s) => s.id));
    return { ok: true, sessions: res.data.sessions, current: state.session ? state.session.id : null };
  }

  function openFromList(id) {
    if (state.session && state.session.id === id) sessionsDialog.close();
    else go(sessionHref(id));
  }

  async function rename(id, title) {
    const isOpen = state.session && state.session.id === id;
    if (isOpen) await autosave.flush();
    const res = await api.patchSession(id, tokenFor(id), { title });
    if (!res.ok) return { ok: false, message: `Could not rename: ${errorText(res)}` };
    if (isOpen) {
      bar.show({ title });
      showTitle(title);
    }
    return { ok: true };
  }

  async function remove(id) {
    const isOpen = state.session && state.session.id === id;
    if (isOpen) autosave.cancel();
    const res = await api.deleteSession(id, tokenFor(id));
    if (!res.ok && res.status !== 404) return { ok: false, message: `Could not delete: ${errorText(res)}` };
    forget(id);
    if (isOpen) {
      // Its runs went with it; the network stays on the page, unsaved.
      writeSession(null);
      page.clearRuns({ stop: false }); // the server stopped them with the session
      page.setSession(null);
      page.setUploads([]);
      serverSpec = null;
      drawSaveState(SAVE_STATE.UNSAVED);
    }
    return { ok: true };
  }

  // -- compare ------------------------------------------------------------------------------------------------
  async function compare(invoker) {
    let saved = null;
    if (state.session || state.shareToken) {
      const res = state.session ? await api.getSession(state.session.id, state.session.token)
        : await api.getShared(state.shareToken);
      if (!res.ok) {
        page.notify(`Could not load the runs: ${errorText(res)}`, "bad");
        return;
      }
      saved = res.data.runs;
    }
    const runs = saved ? savedRuns(saved, { normalizeSpec: (s) => normalize(state.catalog, s), colors: RUN_COLORS,
                                            monitorOf: (task) => monitorOf(state.catalog, task) })
      : state.runs;
    views.compare.open(runs, invoker);
  }

  // -- import a spec ----------------------------------------------------------------------------------------
  async function importSpec(file) {
    if (state.readOnly) return;
    let spec;
    try {
      spec = JSON.parse(await file.text());
    } catch (e) {
      views.diagnosis.showProblem("Cannot import that file", `${file.name} is not JSON (${e.message}). `
        + "Import takes a spec file such as Export → Spec (.json) downloads.");
      return;
    }
    if (!isObject(spec) || !isObject(spec.data) || !isObject(spec.model)) {
      views.diagnosis.showProblem("Cannot import that file", `${file.name} is JSON but not a Layerlab spec: `
        + "a spec is an object with data, model and training.");
      return;
    }
    page.loadSpec(spec);
    page.notify(`Imported ${file.name}. Problems, if any, are shown where they are.`);
  }

  // -- your own data ------------------------------------------------------------------------------------------
  function useUpload(id) {
    const upload = state.uploads.find((u) => u.id === id);
    if (upload) page.useUpload(upload);
  }

  /** Upload a CSV to the session (saving first if there is none) and train on it. */
  async function uploadCsv(file, choice = null) {
    if (state.readOnly) return;
    if (!state.session && !(await save())) return;
    const s = state.session;
    views.csv.showErrors([]);
    views.csv.setBusy(`Checking ${file.name}…`);
    const res = await api.upload(s.id, s.token, file, choice || {});
    views.csv.setBusy("");
    if (!res.ok) {
      views.csv.showErrors(res.errors, file.name);
      page.setCsvFile(state.csvFile); // the chooser shows the columns in use again
      return;
    }
    const up = res.data;
    const d = state.spec.data;
    const previous = d.dataset === CSV_DATASET ? d.upload : null;
    const mine = new Set(choice && state.csvFile && state.csvFile.file === file ? state.csvFile.uploads : []);
    mine.add(up.id);
    let uploads = [...state.uploads, up];
    // A column choice replaces the table it was made on, unless a run trained on that one.
    if (choice && previous && mine.has(previous) && !state.usedUploads.has(previous)) {
      const gone = await api.deleteUpload(s.id, s.token, previous);
      if (gone.ok) {
        uploads = uploads.filter((u) => u.id !== previous);
        mine.delete(previous);
      }
    }
    page.setCsvFile({ file, uploads: mine });
    page.setUploads(uploads);
    page.useUpload(up);
    if (!choice) {
      page.notify(`${file.name}: ${up.n_rows} rows. The network predicts “${up.target}” from `
        + `${up.features.length} feature${up.features.length === 1 ? "" : "s"}.`);
    }
  }

  function chooseColumns(choice) {
    if (state.csvFile) uploadCsv(state.csvFile.file, choice);
  }

  return {
    start,
    specChecked,
    useUpload,
    uploadCsv,
    chooseColumns,
    /** The page is going away: what the autosave still holds goes now (keepalive). */
    leaving: () => autosave.flushNow(),
  };
}
