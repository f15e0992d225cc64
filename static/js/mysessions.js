// "My sessions": the sessions whose edit tokens this browser keeps. Open, rename and delete;
// main.js does the requests, this dialog draws the list and asks before deleting.

import { createDialog } from "./dialog.js";
import { $, clear, el, setText } from "./dom.js";

const rtf = new Intl.RelativeTimeFormat("en", { numeric: "auto" });

function ago(seconds) {
  const dt = seconds - Date.now() / 1000;
  const a = Math.abs(dt);
  if (a < 60) return "just now";
  if (a < 3600) return rtf.format(Math.round(dt / 60), "minute");
  if (a < 86400) return rtf.format(Math.round(dt / 3600), "hour");
  return rtf.format(Math.round(dt / 86400), "day");
}

/**
 * on: {list() -> {ok, sessions, current, message}, open(id), rename(id, title) -> {ok, message},
 *      remove(id) -> {ok, message}}.
 */
export function createSessionsDialog(root, { on }) {
  const dialog = createDialog(root);
  const list = $("#sessions-list", root);
  const status = $("#sessions-status", root);
  let current = null;

  function row(s) {
    const nameId = `session-name-${s.id}`;
    const item = el("li", { class: "session-row", dataset: { id: s.id }, attrs: { "aria-labelledby": nameId } });
    const runs = `${s.n_runs} run${s.n_runs === 1 ? "" : "s"}`;
    const main = el("div", { class: "session-main" },
      el("span", { class: "session-name", text: s.title || "Untitled", attrs: { id: nameId } }),
      s.id === current ? el("span", { class: "badge", text: "open now" }) : null,
      el("span", { class: "session-meta", text: `${runs} · changed ${ago(s.updated_at)}` }));
    const button = (text, onClick, cls = "btn btn-small") => el("button", {
      class: cls, text, attrs: { type: "button", "aria-describedby": nameId }, on: { click: onClick },
    });
    const actions = el("div", { class: "session-buttons" },
      button("Open", () => on.open(s.id), "btn btn-small btn-primary"),
      button("Rename", () => renaming(item, s)),
      button("Delete", () => confirming(item, s)));
    item.append(main, actions);
    return item;
  }

  /** Put `item` back as a plain row of `s` and focus its button number `focus` (Open, Rename, Delete). */
  function restore(item, s, focus = 0) {
    const fresh = row(s);
    item.replaceWith(fresh);
    fresh.querySelectorAll("button")[focus].focus();
  }

  function renaming(item, s) {
    const input = el("input", {
      class: "input", props: { value: s.title || "" },
      attrs: { type: "text", maxlength: "200", "aria-label": `New title for ${s.title || "Untitled"}` },
    });
    const done = async () => {
      const title = input.value.trim() || "Untitled";
      const res = await on.rename(s.id, title);
      if (!res.ok) {
        setText(status, res.message);
        return;
      }
      s.title = title;
      restore(item, s);
      setText(status, `Renamed to “${title}”.`);
    };
    const cancel = () => restore(item, s);
    input.addEventListener("keydown", (e) => {
      if (e.key === "Enter") done();
      if (e.key === "Escape") {
        e.preventDefault(); // close only the editor, not the dialog
        cancel();
      }
    });
    item.replaceChildren(
      el("div", { class: "session-main" }, input),
      el("div", { class: "session-buttons" },
        el("button", { class: "btn btn-small btn-primary", text: "Save title", attrs: { type: "button" }, on: { click: done } }),
        el("button", { class: "btn btn-small", text: "Cancel", attrs: { type: "button" }, on: { click: cancel } })));
    input.focus();
    input.select();
  }

  function confirming(item, s) {
    const cancel = () => restore(item, s, 2);
    const confirm = async () => {
      const res = await on.remove(s.id);
      if (!res.ok) {
        setText(status, res.message);
        return;
      }
      item.remove();
      setText(status, `Deleted “${s.title || "Untitled"}”.${list.children.length ? ""
        : " No other session is saved in this browser."}`);
      const next = list.querySelector("button");
      (next || root.querySelector("[data-close]")).focus();
    };
    const runs = s.n_runs ? ` and its ${s.n_runs} run${s.n_runs === 1 ? "" : "s"}` : "";
    item.replaceChildren(
      el("p", {
        class: "session-confirm", attrs: { role: "alert" },
        text: `Delete “${s.title || "Untitled"}”${runs}? This cannot be undone; its share link stops working.`,
      }),
      el("div", { class: "session-buttons" },
        el("button", { class: "btn btn-small btn-danger", text: "Delete for good", attrs: { type: "button" }, on: { click: confirm } }),
        el("button", { class: "btn btn-small", text: "Keep it", attrs: { type: "button" }, on: { click: cancel } })));
    item.querySelector(".btn-danger").focus();
  }

  function showEmpty() {
    setText(status, "No saved sessions in this browser yet. Press Save to keep the experiment you are working on.");
  }

  return {
    async open(invoker) {
      clear(list);
      setText(status, "Loading…");
      dialog.open(invoker);
      const res = await on.list();
      if (!res.ok) {
        setText(status, res.message);
        return;
      }
      current = res.current;
      setText(status, "");
      list.append(...res.sessions.map(row));
      if (!res.sessions.length) showEmpty();
    },
    close: () => dialog.close(),
  };
}
