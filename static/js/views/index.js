// The page's built-in views, registered like any other: importing this module adds them. A new
// view kind is one more module here, and nothing else in the page changes.

import "./plane.js";
import "./confusion.js";
import "./misclassified.js";
import "./filters.js";
import "./featuremaps.js";
import "./forecast.js";
import "./gan.js";
import "./autoencoder.js";
import "./weights.js";

export { registerView, viewFor } from "./registry.js";
