// The lesson panel: a lesson's text beside its runs, its claims, and whether they showed. It draws
// what main.js gives it and reports the clicks; main.js trains the runs and asks for the check.

import { $, clear, el } from "./dom.js";
import { API } from "./protocol.js";

/**
 * root: the #lesson section; picker: the toolbar's "Lessons" select (it follows the link of a lesson).
 * on: {run(lesson), next(lesson), close()}.
 */
export function createLessonPanel(root, picker, { lessons, on }) {
  picker.append(el("option", { text: "Lessons…", props: { value: "" } }),
    ...lessons.map((l) => el("option", { text: `${l.number}. ${l.title}`, props: { value: l.id } })));
  picker.addEventListener("change", () => {
    if (picker.value) window.location.assign(API.lessonPage(picker.value)); // the link a teacher shares
  });
  let lesson = null;
  const runButton = $("#lesson-run", root);
  const nextButton = $("#lesson-next", root);
  const result = $("#lesson-result", root);
  runButton.addEventListener("click", () => lesson && on.run(lesson));
  nextButton.addEventListener("click", () => lesson && on.next(lesson));
  $("#lesson-close", root).addEventListener("click", () => on.close());

  function claimItems(claims, prefix = "") {
    return claims.map((c) => el("li", { class: "lesson-claim", dataset: { claim: c.claim } }, prefix + c.text));
  }

  return {
    /** Show a lesson (or hide the panel with null). */
    open(next) {
      lesson = next;
      root.hidden = !lesson;
      if (!lesson) return;
      picker.value = lesson.id;
      $("#lesson-title", root).textContent = `Lesson ${lesson.number}: ${lesson.title}`;
      $("#lesson-link", root).href = API.lessonPage(lesson.id);
      clear($("#lesson-text", root)).append(...lesson.text.map((p) => el("p", { text: p })));
      $("#lesson-watch", root).textContent = lesson.watch;
      const tryNext = lesson.try_next;
      clear($("#lesson-claims", root)).append(...claimItems(lesson.expect),
        ...(tryNext ? claimItems(tryNext.expect, "Then: ") : []));
      nextButton.hidden = !tryNext;
      nextButton.textContent = tryNext ? `Try this next: ${tryNext.label}` : "";
      const nextText = $("#lesson-next-text", root);
      nextText.hidden = !tryNext;
      nextText.textContent = tryNext ? tryNext.text : "";
      this.setState({ running: false, trained: false });
      result.textContent = "";
      delete result.dataset.held;
    },
    /** running: the lesson's runs are training; trained: they have ended (try-next becomes possible). */
    setState({ running, trained, readOnly = false }) {
      runButton.disabled = running || readOnly;
      runButton.textContent = trained ? "Run the lesson again" : "Run the lesson";
      nextButton.disabled = running || !trained || readOnly;
    },
    /** The check's answer: whether each claim showed, in the diagnosis's words. */
    showResult(check) {
      const items = root.querySelectorAll(".lesson-claim");
      check.claims.forEach((c, i) => {
        if (!items[i]) return;
        items[i].dataset.held = String(c.held);
        items[i].title = c.evidence;
      });
      result.dataset.held = String(check.held);
      const head = check.held ? "The claim showed." : "The claim did not show this time.";
      clear(result).append(el("strong", { text: head }), " ",
        ...check.claims.map((c) => el("span", { class: "lesson-evidence", text: `${c.held ? "✓" : "✗"} ${c.evidence} ` })));
    },
    showText(text) {
      result.textContent = text;
      delete result.dataset.held;
    },
    get lesson() { return lesson; },
  };
}
