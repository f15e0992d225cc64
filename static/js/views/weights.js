// The weights snapshot is drawn on the network diagram (network.js), not in the Output panel.

import { SNAP } from "../protocol.js";
import { registerView } from "./registry.js";

registerView(SNAP.WEIGHTS, {
  title: "Weights",
  tab: false,
  create: (slot, ctx) => ({ setSnapshot: (snap) => ctx.network.setWeights(snap) }),
});
