"""The end of a run reports the model it ends with: after early stopping with restore_best, the best
epoch's weights are kept, and `end.val_loss`, `end.val_acc` and the final snapshots are theirs."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import load as load_safetensors, save as save_safetensors

from engine.datasets import build_split
from engine.events import EndEvent, SnapshotEvent
from engine.model import build_model
from engine.trainer import Trainer

# The overfitting example: 42 noisy spiral points and a big net. Val loss bottoms out within a few
# dozen epochs and then climbs, so early stopping fires and the kept weights are not the last epoch's.
OVERFIT = {"data": {"dataset": "spiral", "n_samples": 60, "noise": 0.3, "seed": 2},
           "model": {"layers": [{"type": "dense", "units": 128}] * 3},
           "training": {"epochs": 300, "early_stopping": {"patience": 15, "restore_best": True}}}


def _plain_eval(spec, summary, weights: bytes) -> tuple[float, float]:
    """Val loss and accuracy of saved weights, evaluated with plain torch on a fresh model."""
    model = build_model(spec, summary)
    model.load_state_dict(load_safetensors(weights))
    model.eval()
    split = build_split(spec.data, summary.task)
    with torch.no_grad():
        out = model(split.x_val)
    return F.cross_entropy(out, split.y_val).item(), (out.argmax(1) == split.y_val).float().mean().item()


@pytest.mark.outcome
def test_end_reports_the_restored_weights_not_the_last_epoch(make_spec) -> None:
    spec = make_spec(OVERFIT)
    trainer = Trainer(spec)
    events: list = []
    trainer.run(emit=events.append)
    end = events[-1]
    assert isinstance(end, EndEvent) and end.stopped_early
    h = trainer.history
    assert end.weights_epoch is not None and end.weights_epoch < end.epochs == len(h["epoch"])
    # The weights in hand are those of epoch weights_epoch, and they score what that epoch scored.
    saved = save_safetensors({k: v.contiguous() for k, v in trainer.model.state_dict().items()})
    loss, acc = _plain_eval(spec, trainer.summary, saved)
    assert abs(end.val_loss - loss) < 1e-6 and abs(end.val_acc - acc) < 1e-6
    assert abs(end.val_loss - h["val_loss"][end.weights_epoch - 1]) < 1e-6
    # The last epoch's val loss is not what the run ends with (the bug this test guards).
    assert h["val_loss"][-1] > end.val_loss
    # The final view of each kind says which epoch's weights it shows.
    last = {e.kind: e for e in events if isinstance(e, SnapshotEvent)}
    assert last["boundary"].epoch == last["weights"].epoch == end.weights_epoch
    assert last["boundary"].data["epoch"] == end.weights_epoch


def test_without_a_restore_the_end_is_the_last_epoch(make_spec) -> None:
    trainer = Trainer(make_spec({"training": {"epochs": 6}}))
    events: list = []
    trainer.run(emit=events.append)
    end = events[-1]
    h = trainer.history
    assert end.weights_epoch == end.epochs == 6
    assert end.val_loss == h["val_loss"][-1] and end.val_acc == h["val_acc"][-1]
