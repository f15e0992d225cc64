"""Train a lesson's runs in this process, as the tests and the bench do (the page trains them on the server)."""

from __future__ import annotations

import time
from dataclasses import asdict
from typing import Any, Optional

from ..events import DiagnosisEvent, EndEvent
from ..spec import merge_patch, parse_spec
from ..trainer import Trainer
from .claims import Outcome, check, outcome_of
from .lesson import Lesson


def train_one(label: str, raw: dict[str, Any]) -> Outcome:
    """Train one spec to its end; its Outcome."""
    trainer = Trainer(parse_spec(raw))
    events: list = []
    trainer.run(emit=events.append)
    diag = next(e.diagnosis for e in reversed(events) if isinstance(e, DiagnosisEvent))
    end = events[-1]
    assert isinstance(end, EndEvent)
    return outcome_of(label, trainer.history, diag.to_dict(), raw, trainer.summary.total_params,
                      {**asdict(end), "val_loss": end.val_loss})


def run_lesson(lesson: Lesson, with_next: bool = True) -> tuple[list[Outcome], dict[str, Any], float]:
    """(outcomes, the claims' check, seconds of training) for the lesson's runs, then its try-next fork."""
    t0 = time.perf_counter()
    outcomes = [train_one(r.label, r.spec) for r in lesson.runs]
    claims = list(lesson.expect)
    nxt: Optional[Any] = lesson.try_next if with_next else None
    if nxt is not None:
        outcomes.append(train_one(nxt.label, merge_patch(lesson.runs[nxt.run].spec, nxt.patch)))
        claims += nxt.expect
    return outcomes, check(claims, outcomes), time.perf_counter() - t0
