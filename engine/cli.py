"""The headless commands: `layerlab validate SPEC.json` and `layerlab train SPEC.json`.

Exit codes: 0 when training ran (a diverged run is a result too), 2 for an invalid
spec, 1 for anything else.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from .errors import SpecError
from .events import DiagnosisEvent, EndEvent, EpochEvent, Event
from .spec import ExperimentSpec, apply_patch, parse_spec

EXIT_OK, EXIT_ERROR, EXIT_SPEC = 0, 1, 2


def _read_spec(path: str) -> ExperimentSpec | int:
    """The spec at `path`, or an exit code after printing why it is unusable."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as e:
        print(f"error: cannot read {path}: {e.strerror}", file=sys.stderr)
        return EXIT_ERROR
    try:
        return parse_spec(text)
    except SpecError as e:
        return _spec_errors(e)


def _spec_errors(e: SpecError) -> int:
    """Print each error with its JSON path; the exit code for a bad spec."""
    for item in e.errors:
        print(f"{item.path}: {item.message}", file=sys.stderr)
    return EXIT_SPEC


def cmd_validate(args: argparse.Namespace) -> int:
    from .shapes import infer

    spec = _read_spec(args.spec)
    if isinstance(spec, int):
        return spec
    try:
        summary = infer(spec)
    except SpecError as e:
        return _spec_errors(e)
    print(summary.table())
    return EXIT_OK


def cmd_train(args: argparse.Namespace) -> int:
    from .trainer import Trainer

    spec = _read_spec(args.spec)
    if isinstance(spec, int):
        return spec
    patch: dict[str, Any] = {}
    if args.epochs is not None:
        patch["epochs"] = args.epochs
    if args.device is not None:
        patch["device"] = args.device
    try:
        if patch:
            spec = apply_patch(spec, {"training": patch})
        trainer = Trainer(spec)
    except SpecError as e:
        return _spec_errors(e)
    total = spec.training.epochs
    last: dict[str, Any] = {}
    bar = None
    if not args.jsonl:
        from tqdm import tqdm

        bar = tqdm(total=total, unit="epoch", file=sys.stderr, dynamic_ncols=True)

    family = trainer.family
    columns = [x.name for x in family.metrics]

    def progress(m: Any) -> dict[str, str]:
        """The bar's figures: loss and val (and val_acc) for a run with a training loss; else the family's
        first three columns with a value (a GAN's g_loss, d_loss, and d_real or a critic's w_distance)
        and its monitored one, by name."""
        if "train_loss" in columns:
            post = {"loss": f"{m.get('train_loss'):.4g}" if m.get("train_loss") is not None else "nan",
                    "val": f"{m.get('val_loss'):.4g}" if m.get("val_loss") is not None else "nan"}
            if m.get("val_acc") is not None:
                post["val_acc"] = f"{m.get('val_acc'):.3f}"
            return post
        names = [n for n in columns if m.get(n) is not None][:3]
        names += [n for n in (family.monitor,) if n and n not in names and m.get(n) is not None]
        return {n: f"{m.get(n):.4g}" for n in names}

    def out(obj: dict[str, Any]) -> None:
        print(json.dumps(obj), flush=True)

    def emit(event: Event) -> None:
        if isinstance(event, EpochEvent):
            m = event.metrics
            if args.jsonl:
                out({"type": "epoch", **{k: v for k, v in m.to_dict().items() if k != "step_time"}})
            elif bar is not None:
                bar.update(1)
                bar.set_postfix(progress(m), refresh=False)
        elif isinstance(event, DiagnosisEvent):
            last["diagnosis"] = event.diagnosis
        elif isinstance(event, EndEvent):
            last["end"] = event

    trainer.run(emit=emit)
    if bar is not None:
        bar.close()
    d, end = last["diagnosis"], last["end"]
    if args.jsonl:
        out({"type": "diagnosis", "verdict": d.verdict, "cause": d.cause, "evidence": d.evidence, "also": d.also,
             "reason": d.reason, "remedies": [r.__dict__ for r in d.remedies]})
        out({"type": "end", "status": end.status, "epochs": end.epochs, "best_epoch": end.best_epoch,
             "val_loss": end.val_loss, "val_acc": end.val_acc, "weights_epoch": end.weights_epoch,
             "verdict": d.verdict})
    else:
        print(f"status: {end.status} after {end.epochs} epochs"
              + (" (early stopping)" if end.stopped_early else ""))
        if end.val_loss is not None:
            kept = f" (weights of epoch {end.weights_epoch})" if end.weights_epoch != end.epochs else ""
            what = "val loss" if family.monitor == "val_loss" else family.monitor  # a GAN's: its distance
            print(f"final {what}: {end.val_loss:.4g}{kept}  best epoch: {end.best_epoch}")
        print(f"verdict: {d.verdict}: {d.reason}")
        if d.cause:
            print(f"cause: {d.cause}" + (f" (also: {', '.join(d.also)})" if d.also else ""))
        for r in d.remedies:
            print(f"  try: {r.label}: {r.why}")
        if end.advice:
            print(f"advice: {end.advice}")
    return EXIT_OK


def add_commands(sub: Any) -> None:
    """Register the engine's subcommands on an argparse subparsers object."""
    p = sub.add_parser("validate", help="check a spec and print its layer table")
    p.add_argument("spec", help="path to a spec JSON file")
    p.set_defaults(func=cmd_validate)
    p = sub.add_parser("train", help="train a spec with a progress bar")
    p.add_argument("spec", help="path to a spec JSON file")
    p.add_argument("--epochs", type=int, help="override training.epochs")
    p.add_argument("--device", choices=["auto", "cpu", "cuda", "mps"], help="override training.device")
    p.add_argument("--jsonl", action="store_true", help="print one JSON object per line on stdout")
    p.set_defaults(func=cmd_train)
