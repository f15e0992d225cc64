// Modal dialogs on the native <dialog>: focus moves in and is trapped by the browser, Escape and
// the × button close, and focus goes back to whatever opened the dialog.

/** dialog: a <dialog> holding a [data-close] button. Returns {open(invoker), close()}. */
export function createDialog(dialog, { onClose } = {}) {
  let invoker = null;
  dialog.querySelectorAll("[data-close]").forEach((b) => b.addEventListener("click", () => dialog.close()));
  // A click on the backdrop (the dialog element itself, outside its box) closes too.
  dialog.addEventListener("click", (e) => {
    if (e.target !== dialog) return;
    const r = dialog.getBoundingClientRect();
    const inside = e.clientX >= r.left && e.clientX <= r.right && e.clientY >= r.top && e.clientY <= r.bottom;
    if (!inside) dialog.close();
  });
  dialog.addEventListener("close", () => {
    if (onClose) onClose();
    if (invoker && invoker.isConnected) invoker.focus();
    invoker = null;
  });
  return {
    open(from = document.activeElement) {
      invoker = from;
      if (!dialog.open) dialog.showModal();
    },
    close: () => dialog.close(),
  };
}
