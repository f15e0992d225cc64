// Bring your own data: upload a CSV, then choose the target column, the task and the feature
// columns. Every choice is checked by the server against the file; a bad file or choice shows
// its message with the row and the column it names. main.js does the uploading.

import { append, clear, el, setText } from "./dom.js";

/** root: an element inside the data panel; on: {file(file), choose({features, target, task})}. */
export function createCsvPanel(root, { tasks, on }) {
  const input = el("input", {
    class: "visually-hidden",
    attrs: { type: "file", accept: ".csv,.tsv,.txt,text/csv", tabindex: "-1", "aria-hidden": "true" },
  });
  const pick = el("button", {
    class: "btn btn-small", text: "Upload CSV…", attrs: { type: "button" },
    title: "Train on your own table: numeric feature columns and a target column",
    on: { click: () => input.click() },
  });
  const busy = el("span", { class: "hint", attrs: { role: "status", "aria-live": "polite" } });
  const errors = el("div", { class: "csv-errors", attrs: { role: "alert" }, props: { hidden: true } });
  const chooser = el("div", { class: "csv-chooser", props: { hidden: true } });
  root.append(el("div", { class: "csv-row" }, el("span", { class: "field-label", text: "Your data" }), pick, input),
    busy, errors, chooser);

  input.addEventListener("change", () => {
    const file = input.files && input.files[0];
    input.value = "";
    if (file) on.file(file);
  });

  let upload = null;

  function send(changes) {
    on.choose({ features: upload.features, target: upload.target, task: upload.task, ...changes });
  }

  function render(next, { canChoose, readOnly = false }) {
    upload = next;
    clear(chooser);
    chooser.hidden = !upload;
    if (!upload) return;
    const numeric = new Map(upload.columns.map((c) => [c.name, c.numeric]));
    const target = el("select", { class: "input", },
      upload.columns.map((c) => el("option", { text: c.name, props: { value: c.name, selected: c.name === upload.target } })));
    target.addEventListener("change", () => send({
      target: target.value, task: null, features: upload.features.filter((f) => f !== target.value),
    }));
    const task = el("select", { class: "input" },
      tasks.map((t) => el("option", { text: t.label, props: { value: t.name, selected: t.name === upload.task } })));
    task.addEventListener("change", () => send({ task: task.value }));
    const boxes = upload.columns.filter((c) => c.name !== upload.target).map((c) => {
      const box = el("input", { attrs: { type: "checkbox" }, props: { checked: upload.features.includes(c.name), value: c.name } });
      box.addEventListener("change", () => send({
        features: [...chooser.querySelectorAll(".csv-features input:checked")].map((b) => b.value),
      }));
      return el("label", { class: "check small", title: numeric.get(c.name) ? "" : "This column holds text: only numbers can be features" },
        box, c.name, numeric.get(c.name) ? null : el("span", { class: "csv-text", text: "text" }));
    });
    const classes = upload.classes ? ` · ${upload.classes.length} classes` : "";
    append(chooser,
      el("p", { class: "csv-file" }, el("strong", { text: upload.filename }),
        ` · ${upload.n_rows.toLocaleString("en-US")} rows · ${upload.columns.length} columns${classes}`),
      el("label", { class: "field" }, el("span", { class: "field-label", text: "Target column" }), target),
      el("label", { class: "field" }, el("span", { class: "field-label", text: "Task" }), task),
      el("fieldset", { class: "csv-features" }, el("legend", { class: "field-label", text: "Features" }), boxes),
      canChoose || readOnly ? null : el("p", { class: "hint", text: "To choose other columns, upload the file again." }));
    for (const control of chooser.querySelectorAll("select, input")) control.disabled = !canChoose;
  }

  /** Errors from the server: [{message, row, column}]; each says where in the file to look. */
  function showErrors(list, filename) {
    clear(errors);
    errors.hidden = !list.length;
    if (!list.length) return;
    errors.append(el("p", { class: "csv-errors-title", text: `${filename || "The file"} cannot be used:` }));
    for (const e of list) {
      const where = [e.row ? `Row ${e.row}` : null, e.column ? `Column ${e.column}` : null].filter(Boolean);
      // The chip says where; the message need not say it again ("row 4, column 'b': ...").
      const message = where.length ? e.message.replace(/^row \d+(, column '[^']*')?: /, "") : e.message;
      errors.append(el("p", { class: "csv-error" },
        where.length ? el("span", { class: "csv-where", text: where.join(" · ") }) : null, message));
    }
  }

  return {
    render,
    showErrors,
    setBusy(text) {
      setText(busy, text || "");
      pick.disabled = Boolean(text);
    },
  };
}
