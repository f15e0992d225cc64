// The Export menu of the current run: the PyTorch script that replays it, its weights
// (.safetensors, once it has ended) and its spec (.json).

import { setText } from "./dom.js";
import { createMenu } from "./menu.js";
import { API } from "./protocol.js";

/** onOpen() runs as the menu opens (main.js then says whether the weights are ready). */
export function createExportMenu(button, menu, { onOpen }) {
  const item = (kind) => menu.querySelector(`[data-export="${CSS.escape(kind)}"]`);
  const note = menu.querySelector("[data-export-note]");
  createMenu(button, menu, { onOpen });

  function enable(link, href) {
    if (href) {
      link.href = href;
      link.removeAttribute("aria-disabled");
    } else {
      link.removeAttribute("href");
      link.setAttribute("aria-disabled", "true");
    }
  }

  return {
    /** run: {id, label} or null; weights: true (ready), false (none) or null (not yet known). */
    setRun(run, { weights = null } = {}) {
      button.disabled = !run;
      button.title = run ? `Download ${run.label}: PyTorch script, weights or spec`
        : "Train first: Export downloads a run";
      if (!run) return;
      enable(item("script"), API.exportScript(run.id));
      enable(item("spec"), API.specJson(run.id));
      enable(item("weights"), weights ? API.weights(run.id) : null);
      setText(note, weights === true ? `Of ${run.label}.`
        : weights === false ? `Of ${run.label}. Weights come when the run has ended.`
          : `Of ${run.label}. Checking for weights…`);
    },
  };
}
