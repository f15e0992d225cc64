// Slow motion (issue 13): the toolbar's choice of how fast runs train. Small runs finish 300 epochs
// in about 1.5 s, too fast to watch; a pace asks the trainer itself to wait between epochs (so a
// slow run costs no compute while it waits, and pause and stop still answer at once). The choice
// is this browser's, kept in localStorage; main.js sends it with each new run (?pace=) and to the
// runs going when it changes (ACTION.PACE).

import { $ } from "./dom.js";

const KEY = "layerlab.pace";

/** The select's value as epochs a second, or null for full speed. */
const rateOf = (value) => (value ? Number(value) : null);

/** onChange(epochsPerS or null): the user chose another pace. */
export function createPace({ onChange }) {
  const select = $("#pace-select");
  let kept = null;
  try {
    kept = localStorage.getItem(KEY);
  } catch {
    kept = null; // storage refused (a private window): the page starts at full speed
  }
  if (kept !== null && [...select.options].some((o) => o.value === kept)) select.value = kept;

  select.addEventListener("change", () => {
    try {
      localStorage.setItem(KEY, select.value);
    } catch {
      // not kept across reloads; it still applies now
    }
    onChange(rateOf(select.value));
  });

  return {
    /** Epochs a second, or null: full speed. */
    value: () => rateOf(select.value),
    /** A share link watches: it cannot slow the owner's runs. */
    setReadOnly(readOnly) {
      select.disabled = readOnly;
      select.title = readOnly ? "Fork this experiment to choose how fast it trains" : select.dataset.title;
    },
  };
}
