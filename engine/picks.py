"""A pick on an ended run: the views that follow a pick (the feature maps of a chosen digit),
taken of the run's saved weights.

While a run trains, a pick travels to it as a control and is answered at its next epoch. Once it
has ended there is no trainer left to ask, so the model is built again from the spec (the same
modules, the split from its seeds), the saved state dict is loaded into it, and the views are
taken as the run would have taken them of those weights.
"""

from __future__ import annotations

from typing import Any, Optional

import torch

from .data import Split, data_info
from .spec import ExperimentSpec, Limits
from .trainer import Trainer
from .views import ViewData, applying, take


def picked_views(spec: ExperimentSpec, state: dict[str, torch.Tensor], index: int, epoch: int,
                 split: Optional[Split] = None, limits: Optional[Limits] = None) -> list[tuple[str, dict[str, Any]]]:
    """(kind, snapshot) of each view that follows a pick, for validation row `index` (clamped), of the
    weights `state` (a Stepper.state_dict(), as a run saves them); [] when no view follows picks."""
    trainer = Trainer(spec.model_copy(update={"training": spec.training.model_copy(update={"device": "cpu"})}),
                      limits, split=split)
    views = [v for v in applying(trainer.family, data_info(spec.data)) if v.follows_pick]
    if not views:
        return []
    trainer.stepper.load_state_dict(state)
    data = ViewData(trainer.split, trainer.summary, spec=trainer.spec)
    data.pick = min(max(0, index), len(trainer.split.x_val) - 1)
    return [(v.kind, take(v, trainer.model, data, epoch)) for v in views]
