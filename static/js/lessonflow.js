// A lesson's runs: train them side by side, fork its "try this next", and ask the server whether the
// claim showed once they have all ended. Page state stays in main.js; this reads and asks through `page`.

import { api, errorText } from "./api.js";
import { isActive } from "./runs.js";
import { mergePatch } from "./spec.js";

export const MAX_LESSON_RUNS = 6; // a lesson's runs and its try-next fork, overlaid

/** page: main.js's page object (state, loadSpec, startRun, clearRuns); panel: lessons.js's panel. */
export function createLessonFlow(page, panel) {
  let active = null; // {lesson, runs: [run, ...]}: the lesson's runs in its order, the fork last
  let asked = 0; // the check answered last, so that a slow older answer cannot overwrite a newer one

  async function check() {
    if (!active || active.runs.some(isActive)) return;
    const mine = ++asked;
    const res = await api.lessonCheck(active.lesson.id, active.runs.map((r) => r.id));
    if (mine !== asked || !active) return;
    if (res.ok) panel.showResult(res.data);
    else panel.showText(`The claim could not be checked: ${errorText(res)}`);
    panel.setState({ running: false, trained: true, readOnly: page.state.readOnly });
  }

  async function start(runs) {
    for (const { spec, label, parent } of runs) {
      const run = await page.startRun(spec, { label, parent });
      if (!run) {
        panel.showText("A run of this lesson could not start; see the diagnosis card.");
        panel.setState({ running: false, trained: false, readOnly: page.state.readOnly });
        return;
      }
      active.runs.push(run);
    }
  }

  return {
    get lesson() { return active ? active.lesson : null; },
    /** Show a lesson by id, with its first run's network in the builder. False if there is none. */
    open(id) {
      const lesson = (page.state.catalog.lessons || []).find((l) => l.id === id);
      if (!lesson) return false;
      active = { lesson, runs: [] };
      panel.open(lesson);
      page.loadSpec(lesson.runs[0].spec);
      return true;
    },
    async run(lesson) {
      page.clearRuns();
      active = { lesson, runs: [] };
      panel.open(lesson);
      panel.setState({ running: true, trained: false });
      panel.showText("Training the lesson's runs…");
      page.loadSpec(lesson.runs[0].spec);
      await start(lesson.runs.map((r) => ({ spec: page.normalize(r.spec), label: r.label })));
    },
    /** The try-next step: fork the lesson's run with its patch, overlaid, and check its claims too. */
    async next(lesson) {
      if (!active || active.lesson !== lesson || !lesson.try_next) return;
      const t = lesson.try_next;
      const parent = active.runs[t.run];
      active.runs = active.runs.slice(0, lesson.runs.length); // one fork at a time
      const spec = page.normalize(mergePatch(parent.spec, t.patch));
      page.loadSpec(spec);
      panel.setState({ running: true, trained: true });
      panel.showText(`Training “${t.label}”…`);
      await start([{ spec, label: t.label, parent }]);
    },
    close() {
      active = null;
      panel.open(null);
    },
    /** A run ended: once all of the lesson's have, the server checks the claim. */
    runEnded(run) {
      if (active && active.runs.includes(run)) check();
    },
  };
}
