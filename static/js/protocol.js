// The wire contract of docs/protocol.md, in one place: endpoints, message types, statuses,
// control actions, history columns. Other modules import these names; none spells them out.

// A session's run is steered only by a socket that offers its session's edit token as a
// Sec-WebSocket-Protocol value, never in the URL (URLs reach logs and history). The server answers
// with STREAM_PROTOCOL, which is why it is always offered too.
export const STREAM_PROTOCOL = "layerlab";
export const streamProtocols = (token) => (token ? [STREAM_PROTOCOL, `${STREAM_PROTOCOL}.token.${token}`] : [STREAM_PROTOCOL]);

export const API = Object.freeze({
  health: "/api/health",
  catalog: "/api/catalog",
  validate: "/api/validate?report=true",
  preview: "/api/data/preview",
  runs: "/api/runs",
  run: (id) => `/api/runs/${encodeURIComponent(id)}`,
  control: (id) => `/api/runs/${encodeURIComponent(id)}/control`,
  // The views that follow a pick, of an ended run's saved weights (a live run answers ACTION.PICK).
  pick: (id, index) => `/api/runs/${encodeURIComponent(id)}/pick?index=${Number(index)}`,
  stream: (id) => `/api/runs/${encodeURIComponent(id)}/stream`,
  exportScript: (id) => `/api/runs/${encodeURIComponent(id)}/export.py`,
  weights: (id) => `/api/runs/${encodeURIComponent(id)}/weights.safetensors`,
  specJson: (id) => `/api/runs/${encodeURIComponent(id)}/spec.json`,
  // Sessions: an edit token (Authorization: Bearer) edits one; a share token only reads and forks.
  sessions: "/api/sessions",
  lookup: "/api/sessions/lookup",
  session: (id) => `/api/sessions/${encodeURIComponent(id)}`,
  sessionRuns: (id) => `/api/sessions/${encodeURIComponent(id)}/runs`,
  uploads: (id) => `/api/sessions/${encodeURIComponent(id)}/uploads`,
  upload: (id, upload) => `/api/sessions/${encodeURIComponent(id)}/uploads/${encodeURIComponent(upload)}`,
  sessionPreview: (id) => `/api/sessions/${encodeURIComponent(id)}/data/preview`,
  shared: (token) => `/api/shared/${encodeURIComponent(token)}`,
  sharedPreview: (token) => `/api/shared/${encodeURIComponent(token)}/data/preview`,
  // Lessons: the shareable link that opens one, and the check of its claim on the runs it trained.
  lessonPage: (id) => `/lessons/${encodeURIComponent(id)}`,
  lessonCheck: (id, runIds) => `/api/lessons/${encodeURIComponent(id)}/check?runs=${runIds.map(encodeURIComponent).join(",")}`,
  fork: (token) => `/api/shared/${encodeURIComponent(token)}/fork`,
  sharePage: (token) => `/s/${encodeURIComponent(token)}`,
});

// The dataset name of an uploaded table, and the spec's data fields that only it takes.
export const CSV_DATASET = "csv";
export const UPLOAD_FIELDS = Object.freeze(["upload", "features", "target", "n_classes"]);

// Server-to-client websocket messages, keyed on `type`.
export const MSG = Object.freeze({
  STATUS: "status",
  METRICS: "metrics",
  DIAGNOSIS: "diagnosis",
  SNAPSHOT: "snapshot",
  ERROR: "error",
  END: "end",
});

// The `kind` of a snapshot message: one per view the engine registers (docs/protocol.md).
export const SNAP = Object.freeze({
  BOUNDARY: "boundary",
  SURFACE: "surface",
  CURVE: "curve",
  WEIGHTS: "weights",
  FILTERS: "filters",
  FEATURE_MAPS: "feature_maps",
  CONFUSION: "confusion",
  MISCLASSIFIED: "misclassified",
  FORECAST: "forecast",
  INSIDES: "insides",
});

// Client-to-server control frames: {"action": ...}.
export const ACTION = Object.freeze({
  PAUSE: "pause",
  RESUME: "resume",
  STEP: "step",
  STOP: "stop",
  SET: "set",
  PICK: "pick", // {"action": "pick", "index": i}: the feature maps of validation example i
  PACE: "pace", // {"action": "pace", "epochs_per_s": r | null}: at most r epochs a second (null: full speed)
});

export const STATUS = Object.freeze({
  QUEUED: "queued",
  RUNNING: "running",
  PAUSED: "paused",
  FINISHED: "finished",
  STOPPED: "stopped",
  FAILED: "failed",
  DIVERGED: "diverged",
  INTERRUPTED: "interrupted",
});

// A run in one of these states may still produce epochs.
export const ACTIVE_STATUSES = new Set([STATUS.QUEUED, STATUS.RUNNING, STATUS.PAUSED]);

// The columns every `metrics` message and run history has. The others are the family's metric
// columns, which the catalog lists (tasks[i].metrics; see metrics.js); VAL_LOSS is only the
// monitor of a task the catalog does not know.
export const COL = Object.freeze({
  EPOCH: "epoch",
  LR: "lr",
  STEP_TIME: "step_time",
  VAL_LOSS: "val_loss",
});

// An ensemble's (training.seeds > 1) seed-to-seed spread of metric m: the column m + SPREAD_SUFFIX,
// the members' sample sd (engine/family.py's spread_column); the metric's own column is their mean.
export const SPREAD_SUFFIX = "_sd";
export const spreadOf = (metric) => `${metric}${SPREAD_SUFFIX}`;
/** The members of a run's spec: 1 for a single run (the spec leaves `seeds` out then). */
export const seedsOf = (spec) => Number((spec && spec.training && spec.training.seeds) || 1);

export const VERDICT = Object.freeze({
  UNDERFITTING: "underfitting",
  OVERFITTING: "overfitting",
  GOOD_FIT: "good_fit",
  DIVERGED: "diverged",
  UNSTABLE: "unstable",
  TOO_EARLY: "too_early",
  // The generation family's (engine/families/gan_diagnosis.py).
  D_OVERPOWERING: "d_overpowering",
  MODE_COLLAPSE: "mode_collapse",
  OSCILLATION: "oscillation",
  CONVERGING: "converging",
});

// The `op` of a shape error's one-click fix.
export const FIX_OP = Object.freeze({ INSERT: "insert", REMOVE: "remove" });

// Dataset kinds from the catalog: they decide which preview and which output view fit.
export const DATA_KIND = Object.freeze({ TWO_D: "2d", ONE_D: "1d", IMAGE: "image", TABLE: "table", SEQUENCE: "sequence" });

export const TASK = Object.freeze({ CLASSIFICATION: "classification", REGRESSION: "regression" });
