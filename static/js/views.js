// Every view of the page, built on the page shell's elements. `on` carries main.js's handlers;
// the views report to them and hold no page state.

import { createCharts } from "./charts.js";
import { createCompareDialog } from "./compare.js";
import { createCsvPanel } from "./csvpanel.js";
import { createDataPanel } from "./datapanel.js";
import { createDiagnosisCard } from "./diagnosis.js";
import { $ } from "./dom.js";
import { createExportMenu } from "./exportmenu.js";
import { createInsidesView } from "./insides.js";
import { createNetworkView } from "./network.js";
import { createOutputs } from "./outputs.js";
import { createStacks } from "./stacks.js";
import { createTrainPanel } from "./trainpanel.js";
import { createFoldCue } from "./foldcue.js";

/**
 * on: {builder: {stack(path()) -> {add, move, remove, param, fix}, paths(edits)}, data(edits), example(name), useUpload(id), csvFile(file),
 *      csvColumns(choice), training(edits), dropout(p), remedy(remedy), exportOpen(), pick(index) -> bool}.
 */
export function createViews(catalog, on) {
  const views = {};
  views.builder = createStacks({
    palette: $("#palette"), stack: $("#stack"), input: $("#stack-input"), head: $("#stack-head"), total: $("#param-total"),
  }, { catalog, on: on.builder });
  views.dataPanel = createDataPanel($("#data-panel"), {
    catalog, examples: $("#example-select"), onChange: on.data, onExample: on.example, onUseUpload: on.useUpload,
    onTask: on.task,
  });
  views.csv = createCsvPanel(views.dataPanel.csvSlot, {
    tasks: catalog.tasks, on: { file: on.csvFile, choose: on.csvColumns },
  });
  views.trainPanel = createTrainPanel($("#train-panel"), { catalog, onChange: on.training, onDropout: on.dropout });
  createFoldCue($("#train-panel").closest("section"), $("#train-panel [data-path='training.device']"), $("#train-more"));
  views.charts = createCharts({
    loss: $("#loss-chart"), acc: $("#acc-chart"), lr: $("#lr-chart"), accPanel: $("#acc-panel"),
    legend: $("#run-legend"), readout: $("#readout"), logToggle: $("#log-scale"), onRename: on.rename,
  });
  const labels = Object.fromEntries(catalog.layers.map((l) => [l.type, l.label]));
  views.network = createNetworkView($("#network-canvas"), { caption: $("#network-caption"), labels });
  views.outputs = createOutputs({ tabs: $("#output-tabs"), body: $("#output-views"), none: $("#output-none") },
    { catalog, ctx: { network: views.network, onPick: on.pick } });
  views.diagnosis = createDiagnosisCard($("#diagnosis"), { onRemedy: on.remedy });
  views.insides = createInsidesView($("#insides"), { onFlags: (flags) => views.builder.showFlags(flags) });
  views.exportMenu = createExportMenu($("#btn-export"), $("#export-menu"), { onOpen: on.exportOpen });
  views.compare = createCompareDialog($("#compare-dialog"), catalog);
  return views;
}
