// The share dialog: the read-only link in a field, selected, with a Copy button.

import { createDialog } from "./dialog.js";
import { $, setText } from "./dom.js";

export function createShareDialog(root) {
  const dialog = createDialog(root);
  const url = $("#share-url", root);
  const copy = $("#share-copy", root);
  const status = $("#share-status", root);
  const openLink = $("#share-open", root);

  async function copyLink() {
    url.select();
    try {
      await navigator.clipboard.writeText(url.value);
      setText(status, "Copied. Paste it anywhere: it opens read-only.");
    } catch {
      // No clipboard permission (e.g. an insecure origin): the link is selected for Ctrl+C.
      setText(status, "Press Ctrl+C (⌘C) to copy the selected link.");
    }
  }
  copy.addEventListener("click", copyLink);
  url.addEventListener("focus", () => url.select());

  return {
    open(link, invoker) {
      url.value = link;
      openLink.href = link;
      setText(status, "");
      dialog.open(invoker);
      url.focus();
      url.select();
    },
  };
}
