// A menu button (WAI-ARIA menu pattern): Enter, Space or ↓ opens it on the first item, ↑/↓ move,
// Escape or Tab closes it and focus returns to the button. Items are links or buttons.

/** button: the menu button; menu: its role=menu element; onOpen() runs before it shows. */
export function createMenu(button, menu, { onOpen } = {}) {
  const items = () => [...menu.querySelectorAll("[role=menuitem]")].filter((i) => i.getAttribute("aria-disabled") !== "true");

  function open(focusFirst = true) {
    if (onOpen) onOpen();
    menu.hidden = false;
    button.setAttribute("aria-expanded", "true");
    const first = items()[0];
    if (focusFirst && first) first.focus();
    document.addEventListener("pointerdown", outside, true);
  }

  function close(refocus = true) {
    if (menu.hidden) return;
    menu.hidden = true;
    button.setAttribute("aria-expanded", "false");
    document.removeEventListener("pointerdown", outside, true);
    if (refocus) button.focus();
  }

  function outside(e) {
    if (!menu.contains(e.target) && !button.contains(e.target)) close(false);
  }

  button.addEventListener("click", () => (menu.hidden ? open(true) : close()));
  button.addEventListener("keydown", (e) => {
    if (e.key === "ArrowDown" && menu.hidden) {
      e.preventDefault();
      open(true);
    }
  });
  menu.addEventListener("keydown", (e) => {
    const list = items();
    const i = list.indexOf(document.activeElement);
    if (e.key === "ArrowDown" || e.key === "ArrowUp") {
      e.preventDefault();
      const next = list[(i + (e.key === "ArrowDown" ? 1 : -1) + list.length) % list.length];
      if (next) next.focus();
    } else if (e.key === "Escape") {
      e.preventDefault();
      close();
    } else if (e.key === "Tab") {
      close(false);
    } else if (e.key === " " && document.activeElement && document.activeElement.tagName === "A") {
      e.preventDefault(); // space on a link item activates it, as on a menu item
      document.activeElement.click();
    }
  });
  menu.addEventListener("click", (e) => {
    const item = e.target.closest("[role=menuitem]");
    if (!item) return;
    if (item.getAttribute("aria-disabled") === "true") {
      e.preventDefault();
      return;
    }
    close();
  });

  return { open, close };
}
