// A cue for what is below the fold (issue 13): at 1440x900 the lower half of the Training panel
// (dropout, early stopping, schedule, seed, device) was out of sight with nothing to say so. The
// cue shows while the panel's end is below the window, its top on screen or not (at 1024x768 the whole
// panel is below the fold); pressing it scrolls there.

/** panel: the section; end: its last control; cue: the button. */
export function createFoldCue(panel, end, cue) {
  function update() {
    cue.hidden = !(end.getBoundingClientRect().bottom > window.innerHeight);
  }
  cue.addEventListener("click", () => {
    end.scrollIntoView({ block: "end", behavior: "smooth" });
    end.focus({ preventScroll: true });
  });
  document.addEventListener("scroll", update, { passive: true, capture: true }); // the window or a scrolling column
  window.addEventListener("resize", update);
  new ResizeObserver(update).observe(panel);
  update();
  return { update };
}
