"""The trainer steered by a Control from another thread, early stopping, schedules, train_fraction,
snapshots and the device check. Every run here is a real Trainer on tiny seeded data."""

from __future__ import annotations

import base64
import math
import queue
import sys
import threading
import time

import pytest
import torch

from engine.control import Control
from engine.datasets import build_split
from engine.errors import SpecError
from engine.events import DiagnosisEvent, EndEvent, EpochEvent, SnapshotEvent
from engine.viewkinds.plane import CURVE_POINTS, GRID
from engine.trainer import Trainer

WAIT = 10.0  # seconds before a test gives up on an event that should come at once
QUIET = 0.2  # seconds of silence that show a paused trainer is really waiting


class Run:
    """Trainer.run on a thread, its events arriving on a queue."""

    def __init__(self, trainer: Trainer, control: Control) -> None:
        self.trainer, self.control = trainer, control
        self.events: queue.Queue = queue.Queue()
        self.result = None
        self.thread = threading.Thread(target=self._main, daemon=True)
        self.thread.start()

    def _main(self) -> None:
        self.result = self.trainer.run(self.control, self.events.put)

    def next_epoch(self) -> int:
        """Block until the next epoch event; return its epoch number."""
        deadline = time.monotonic() + WAIT
        while True:
            e = self.events.get(timeout=max(0.01, deadline - time.monotonic()))
            if isinstance(e, EpochEvent):
                return e.metrics.epoch
            assert not isinstance(e, EndEvent), "run ended while an epoch was expected"

    def assert_quiet(self) -> None:
        """No epoch arrives for QUIET seconds."""
        time.sleep(QUIET)
        while not self.events.empty():
            e = self.events.get_nowait()
            assert not isinstance(e, (EpochEvent, EndEvent)), f"unexpected {e}"

    def settle(self) -> None:
        """Wait until the trainer thread is blocked in Control.wait_turn, then drain the queue."""
        deadline = time.monotonic() + WAIT
        while not self._waiting():
            assert time.monotonic() < deadline, "trainer never reached wait_turn"
            time.sleep(0.005)
        while not self.events.empty():
            assert not isinstance(self.events.get_nowait(), EndEvent), "run ended while settling"

    def _waiting(self) -> bool:
        frame = sys._current_frames().get(self.thread.ident)
        while frame is not None:
            if frame.f_code.co_name == "wait_turn" and frame.f_code.co_filename.endswith("control.py"):
                return True
            frame = frame.f_back
        return False

    def join(self) -> list:
        self.thread.join(WAIT)
        assert not self.thread.is_alive(), "run did not end"
        rest = []
        while not self.events.empty():
            rest.append(self.events.get_nowait())
        return rest


def long_spec(make_spec, **training):
    return make_spec({"training": {"epochs": 2000, **training}})


def test_paused_run_steps_exactly_one_epoch_at_a_time(make_spec):
    control = Control(paused=True)
    run = Run(Trainer(long_spec(make_spec)), control)
    run.settle()
    run.assert_quiet()
    assert run.trainer.epoch == 0
    for expected in (1, 2, 3):
        control.step()
        assert run.next_epoch() == expected
        run.assert_quiet()
        assert run.trainer.epoch == expected
    control.stop()
    rest = run.join()
    assert isinstance(rest[-1], EndEvent) and rest[-1].status == "stopped" and rest[-1].epochs == 3
    assert run.result.status == "stopped" and run.result.epochs == 3


def test_pause_resume_and_stop_while_running(make_spec):
    control = Control()
    run = Run(Trainer(long_spec(make_spec)), control)
    run.next_epoch()
    control.pause()
    at_pause = run.trainer.epoch
    run.settle()
    held = run.trainer.epoch
    assert held <= at_pause + 1  # at most the epoch in flight finishes after the pause
    run.assert_quiet()
    assert run.trainer.epoch == held and control.paused
    control.resume()
    assert run.next_epoch() == held + 1
    assert run.next_epoch() == held + 2
    control.stop()
    end = run.join()[-1]
    assert isinstance(end, EndEvent) and end.status == "stopped"
    assert end.epochs == run.trainer.epoch < 2000
    assert len(run.trainer.history["epoch"]) == end.epochs


def test_stop_while_paused_ends_at_once(make_spec):
    control = Control(paused=True)
    run = Run(Trainer(long_spec(make_spec)), control)
    run.settle()
    control.stop()
    end = run.join()[-1]
    assert isinstance(end, EndEvent) and end.status == "stopped" and end.epochs == 0


def test_step_after_resume_pauses_again(make_spec):
    control = Control()
    run = Run(Trainer(long_spec(make_spec)), control)
    run.next_epoch()
    control.step()  # pauses, with one more epoch allowed
    run.settle()
    held = run.trainer.epoch
    run.assert_quiet()
    assert control.paused
    assert run.trainer.epoch == held
    control.stop()
    run.join()


def test_set_lr_and_l2_take_effect_from_the_next_epoch(make_spec):
    control = Control(paused=True)
    trainer = Trainer(long_spec(make_spec, lr=0.1))
    run = Run(trainer, control)
    control.step()
    run.next_epoch()
    control.set(lr=0.025)
    control.step()
    run.next_epoch()
    control.set(l2=0.5)
    control.step()
    run.next_epoch()
    control.stop()
    run.join()
    assert trainer.history["lr"] == [0.1, 0.025, 0.025]
    assert trainer.l2 == 0.5
    assert control.take_changes() == (None, None)  # consumed by the trainer


def test_set_lr_rescales_a_schedule(make_spec):
    spec = make_spec({"training": {"epochs": 4, "lr": 0.1,
                                   "lr_schedule": {"type": "exponential", "gamma": 0.5}}})
    control = Control(paused=True)
    run = Run(Trainer(spec), control)
    control.step()
    run.next_epoch()
    control.set(lr=1.0)
    control.resume()
    run.join()
    assert run.trainer.history["lr"] == pytest.approx([0.1, 0.5, 0.25, 0.125])


@pytest.mark.parametrize("schedule,expected", [
    ({"type": "none"}, lambda e: 0.1),
    ({"type": "step", "step_size": 3, "gamma": 0.5}, lambda e: 0.1 * 0.5 ** (e // 3)),
    ({"type": "exponential", "gamma": 0.9}, lambda e: 0.1 * 0.9 ** e),
    # from lr down to min_lr over the run: min + (lr - min) * (1 + cos(pi * e / (E - 1))) / 2
    ({"type": "cosine", "min_lr": 0.02}, lambda e: 0.02 + 0.08 * (1 + math.cos(math.pi * e / 7)) / 2),
])
def test_lr_schedules_fill_the_lr_column(make_spec, schedule, expected):
    trainer = Trainer(make_spec({"training": {"epochs": 8, "lr": 0.1, "lr_schedule": schedule}}))
    trainer.run()
    assert trainer.history["lr"] == pytest.approx([expected(e) for e in range(8)], rel=1e-12)
    if schedule["type"] == "cosine":
        assert trainer.history["lr"][0] == pytest.approx(0.1) and trainer.history["lr"][-1] == pytest.approx(0.02)


# -- early stopping -------------------------------------------------------------------------------
OVERFIT = {"data": {"dataset": "spiral", "n_samples": 60, "noise": 0.3},
           "model": {"layers": [{"type": "dense", "units": 64}] * 2},
           "training": {"optimizer": "adam", "lr": 0.01, "batch_size": 16, "epochs": 300}}


def _keras_stop(val: list[float], patience: int, min_delta: float) -> tuple[int, int | None]:
    """Keras EarlyStopping on a val-loss history: (epoch it stops at, best epoch), 1-based."""
    best, best_epoch, wait = math.inf, None, 0
    for e, v in enumerate(val, 1):
        if v < best - min_delta:
            best, best_epoch, wait = v, e, 0
        else:
            wait += 1
            if wait >= patience:
                return e, best_epoch
    return len(val), best_epoch


@pytest.mark.outcome
@pytest.mark.parametrize("patience,min_delta", [(5, 0.0), (10, 0.0), (5, 0.05)])
def test_early_stopping_follows_keras(make_spec, patience, min_delta):
    spec = make_spec({**OVERFIT, "training": {**OVERFIT["training"], "early_stopping": {
        "patience": patience, "min_delta": min_delta, "restore_best": True}}})
    # The same spec without early stopping gives the val curve Keras would have watched.
    free = Trainer(make_spec(OVERFIT))
    free.run()
    stop_at, es_best = _keras_stop(free.history["val_loss"], patience, min_delta)
    assert stop_at < 300, "the fixture must overfit, or early stopping is not exercised"

    trainer = Trainer(spec)
    events: list = []
    result = trainer.run(emit=events.append)
    assert result.stopped_early and result.status == "finished"
    assert result.epochs == stop_at
    assert trainer.history["val_loss"] == free.history["val_loss"][:stop_at]
    end = events[-1]
    assert isinstance(end, EndEvent) and end.stopped_early and end.epochs == stop_at
    # restore_best: the final weights are those of the best epoch (by early stopping's own rule).
    final_val, _ = trainer.evaluate(trainer.x_val, trainer.y_val)
    assert final_val == pytest.approx(trainer.history["val_loss"][es_best - 1], abs=1e-7)
    assert final_val != pytest.approx(trainer.history["val_loss"][-1], abs=1e-7)


@pytest.mark.outcome
def test_early_stopping_without_restore_keeps_the_last_weights(make_spec):
    spec = make_spec({**OVERFIT, "training": {**OVERFIT["training"], "early_stopping": {
        "patience": 5, "restore_best": False}}})
    trainer = Trainer(spec)
    result = trainer.run()
    assert result.stopped_early
    final_val, _ = trainer.evaluate(trainer.x_val, trainer.y_val)
    assert final_val == pytest.approx(trainer.history["val_loss"][-1], abs=1e-7)
    assert final_val > min(trainer.history["val_loss"])


def test_restore_best_only_when_early_stopping_triggered(make_spec):
    # Patience longer than the run: Keras leaves the last epoch's weights in place.
    spec = make_spec({**OVERFIT, "training": {**OVERFIT["training"], "epochs": 40,
                                              "early_stopping": {"patience": 1000}}})
    trainer = Trainer(spec)
    result = trainer.run()
    assert not result.stopped_early and result.epochs == 40
    final_val, _ = trainer.evaluate(trainer.x_val, trainer.y_val)
    assert final_val == pytest.approx(trainer.history["val_loss"][-1], abs=1e-7)
    assert result.best_epoch == 1 + trainer.history["val_loss"].index(min(trainer.history["val_loss"]))


# -- data, snapshots, device -----------------------------------------------------------------------
def test_train_fraction_trains_on_a_subset(make_spec):
    full = Trainer(make_spec({"data": {"n_samples": 200}}))
    half = Trainer(make_spec({"data": {"n_samples": 200, "train_fraction": 0.5}}))
    assert len(full.x_train) == 140 and len(half.x_train) == 70
    assert torch.equal(full.x_val, half.x_val)
    half.run()
    full.run()
    # Accuracy counts over the 70 rows kept (with 140 it would take odd multiples of 1/140).
    assert all(a * 70 == pytest.approx(round(a * 70), abs=1e-9) for a in half.history["train_acc"])
    assert half.history["train_loss"] != full.history["train_loss"]


VIEWS = ("boundary", "curve", "surface")


def _snapshots(trainer: Trainer) -> tuple[list[SnapshotEvent], EndEvent]:
    """The run's view snapshots (weight summaries left out) and its end event."""
    events: list = []
    trainer.run(emit=events.append)
    return [e for e in events if isinstance(e, SnapshotEvent) and e.kind in VIEWS], events[-1]


def test_boundary_snapshot_for_two_d_classification(make_spec):
    trainer = Trainer(make_spec({"training": {"epochs": 5, "optimizer": "adam", "lr": 0.05}}))
    snaps, end = _snapshots(trainer)
    assert snaps and all(s.kind == "boundary" for s in snaps)
    last = snaps[-1]
    assert last.epoch == end.epochs == 5
    d = dict(last.data)
    assert d["n"] == GRID == 64 and d["classes"] == 2 and d["encoding"] == "u8-base64"
    d["pred"] = list(base64.b64decode(d["pred"]))  # one byte per cell; confidence in percent
    d["conf"] = [v / 100 for v in base64.b64decode(d["conf"])]
    assert len(d["pred"]) == len(d["conf"]) == 64 * 64
    assert set(d["pred"]) <= {0, 1} and all(0.5 <= c <= 1.0 for c in d["conf"])
    x_all = torch.cat([trainer.split.x_train, trainer.split.x_val])
    assert d["x"][0] < float(x_all[:, 0].min()) and d["x"][1] > float(x_all[:, 0].max())
    assert d["y"][0] < float(x_all[:, 1].min()) and d["y"][1] > float(x_all[:, 1].max())
    # Row-major with row 0 at y0: cell (r, c) is the point (x0 + c*dx, y0 + r*dy).
    trainer.model.eval()
    (x0, x1), (y0, y1) = d["x"], d["y"]
    for r, c in [(0, 0), (0, 63), (63, 0), (40, 10), (31, 32)]:
        pt = torch.tensor([[x0 + c * (x1 - x0) / 63, y0 + r * (y1 - y0) / 63]])
        with torch.no_grad():
            probs = trainer.model(pt).softmax(1)[0]
        if abs(float(probs[0] - probs[1])) > 1e-3:
            assert d["pred"][r * 64 + c] == int(probs.argmax()), (r, c)
            assert d["conf"][r * 64 + c] == pytest.approx(float(probs.max()), abs=5.01e-3)  # sent to 2 decimals


def test_curve_snapshot_for_one_d_regression(make_spec):
    trainer = Trainer(make_spec({"data": {"dataset": "sine", "n_samples": 60},
                                 "training": {"epochs": 5, "optimizer": "adam", "lr": 0.02}}))
    snaps, _ = _snapshots(trainer)
    assert snaps and all(s.kind == "curve" for s in snaps)
    d = snaps[-1].data
    assert len(d["x"]) == len(d["y"]) == CURVE_POINTS
    assert d["x"] == sorted(d["x"])
    trainer.model.eval()
    with torch.no_grad():
        y = trainer.model(torch.tensor(d["x"]).reshape(-1, 1))[:, 0]
    assert max(abs(a - b) for a, b in zip(y.tolist(), d["y"])) < 1e-3


def test_surface_snapshot_for_two_d_regression(make_spec):
    trainer = Trainer(make_spec({"data": {"dataset": "plane", "n_samples": 80}, "training": {"epochs": 3}}))
    snaps, _ = _snapshots(trainer)
    assert snaps and all(s.kind == "surface" for s in snaps)
    d = snaps[-1].data
    assert d["n"] == 64 and len(d["value"]) == 64 * 64
    assert d["vmin"] == min(d["value"]) and d["vmax"] == max(d["value"]) and d["vmin"] < d["vmax"]
    # Row-major with row 0 at y0: cell (r, c) holds the model's output at (x0 + c*dx, y0 + r*dy).
    trainer.model.eval()
    (x0, x1), (y0, y1) = d["x"], d["y"]
    for r, c in [(0, 0), (0, 63), (63, 0), (40, 10), (31, 32)]:
        pt = torch.tensor([[x0 + c * (x1 - x0) / 63, y0 + r * (y1 - y0) / 63]])
        with torch.no_grad():
            value = float(trainer.model(pt)[0, 0])
        assert d["value"][r * 64 + c] == pytest.approx(value, abs=1e-3), (r, c)  # sent to 4 decimals


def test_images_get_weight_summaries_and_the_image_views(make_spec):
    trainer = Trainer(make_spec({"data": {"dataset": "digits", "n_samples": 60},
                                 "model": {"layers": [{"type": "flatten"}, {"type": "dense", "units": 4}]},
                                 "training": {"epochs": 2}}))
    events: list = []
    trainer.run(emit=events.append)
    snaps = [e for e in events if isinstance(e, SnapshotEvent)]
    assert {s.kind for s in snaps} == {"weights", "filters", "feature_maps", "confusion", "misclassified", "insides"}
    insides = [s.data for s in snaps if s.kind == "insides"][-1]
    assert [l["index"] for l in insides["layers"]] == [1, 2]  # the flatten has no weights
    last = [s for s in snaps if s.kind == "weights"][-1].data
    assert last["epoch"] == 2 and [entry["index"] for entry in last["layers"]] == [0, 1, 2]
    flatten, dense, head = last["layers"]
    assert flatten["mean_abs"] is None
    w = trainer.model[1][0].weight.detach()  # the dense layer's (4, 64) matrix
    assert dense["mean_abs"] == pytest.approx(float(w.abs().mean()), abs=1e-5)
    assert len(head["matrix"]) == 10 and len(head["matrix"][0]) == 4  # (out, in)
    assert [type(e) for e in events][-2:] == [DiagnosisEvent, EndEvent]
    filters = [s for s in snaps if s.kind == "filters"][-1].data
    assert filters["filters"] == [] and filters["layer"] is None  # no conv layer: nothing to draw


def test_events_arrive_in_order(make_spec):
    events: list = []
    Trainer(make_spec({"training": {"epochs": 4}})).run(emit=events.append)
    epochs = [e.metrics.epoch for e in events if isinstance(e, EpochEvent)]
    assert epochs == [1, 2, 3, 4]
    assert isinstance(events[-1], EndEvent) and sum(isinstance(e, EndEvent) for e in events) == 1
    assert isinstance(events[-2], DiagnosisEvent) and events[-2].diagnosis.verdict == "too_early"


def test_run_can_be_cut_short_by_epochs_argument(make_spec):
    trainer = Trainer(make_spec({"training": {"epochs": 50}}))
    assert trainer.run(epochs=3).epochs == 3 and trainer.epoch == 3


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_unavailable_cuda_is_a_spec_error(make_spec):
    with pytest.raises(SpecError) as info:
        Trainer(make_spec({"training": {"device": "cuda"}}))
    [item] = info.value.errors
    assert item.path == "training.device" and "'cuda'" in item.message and "cpu" in item.message


def test_trainer_accepts_a_prebuilt_split(make_spec):
    spec, other = make_spec(), make_spec({"data": {"seed": 4}})
    given = Trainer(spec, split=build_split(other.data, "classification"))
    same_data, own_data = Trainer(other), Trainer(spec)
    for trainer in (given, same_data, own_data):
        trainer.run()
    assert given.history["val_loss"] == same_data.history["val_loss"]
    assert given.history["val_loss"] != own_data.history["val_loss"]
