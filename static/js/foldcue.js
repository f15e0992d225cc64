// A cue for what is below the fold (issue 13): at 1440x900 the lower half of the Training panel
// (dropout, early stopping, schedule, seed, device) was out of sight with nothing to say so. The
// cue shows while the panel's top is on screen and its end is not; pressing it scrolls there.

/** panel: the section; end: its last control; cue: the button. */
export function createFoldCue(panel, end, cue) {
  function update() {
    const top = panel.getBoundingClientRect().top;
    const bottom = end.getBoundingClientRect().bottom;
    cue.hidden = !(top < window.innerHeight && bottom > window.innerHeight);
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
