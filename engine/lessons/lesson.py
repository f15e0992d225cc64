"""A lesson: a short text, prepared runs, and a machine-readable claim that those runs prove.

A lesson is data, like a spec: it is validated when it registers (every run's spec parses and
infers), and served in /api/catalog. Its claim is checked against what the runs did by the claim
kinds of claims.py, the same code for the engine's tests, the server and so the page.
"""

from __future__ import annotations

from typing import Any, Optional

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ..registry import Registry
from ..shapes import infer
from ..spec import merge_patch, parse_spec
from .claims import CLAIMS

TIME_BUDGET_S = 30.0  # a lesson proves its claim within this much training on a 2-core CPU


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LessonRun(_Strict):
    """One prepared run of a lesson: a label for the legend and a complete spec."""

    label: str
    spec: dict[str, Any]


class Claim(_Strict):
    """One machine-readable claim, e.g. {"claim": "verdict", "run": 0, "verdict": "underfitting"}."""

    claim: str  # a name in CLAIMS
    text: str  # the claim in words, shown beside the run
    params: dict[str, Any] = Field(default_factory=dict)


class TryNext(_Strict):
    """The one-click next step: fork run `run` with a JSON merge patch, overlaid, and what it shows."""

    label: str
    text: str
    run: int = 0
    patch: dict[str, Any]
    expect: list[Claim] = Field(default_factory=list)  # checked with the fork as run index len(runs)


class Lesson(_Strict):
    id: str = Field(pattern=r"^[a-z0-9_]{1,40}$")
    number: int
    title: str
    family: str  # the network family it teaches: feedforward, cnn, rnn, autoencoder, gan
    text: list[str]  # paragraphs in the project's own words: what it shows and why
    watch: str  # what to watch for while it trains
    runs: list[LessonRun] = Field(min_length=1, max_length=5)
    expect: list[Claim] = Field(min_length=1)
    try_next: Optional[TryNext] = None

    @field_validator("runs")
    @classmethod
    def _specs_are_valid(cls, runs: list[LessonRun]) -> list[LessonRun]:
        for r in runs:
            infer(parse_spec(r.spec))  # raises SpecError/ShapeError with the path
        return runs

    def public(self) -> dict[str, Any]:
        """The catalog's entry: everything the page needs to open, run and explain the lesson."""
        return self.model_dump(mode="json")


LESSONS: Registry[Lesson] = Registry("lesson")


def register(raw: dict[str, Any]) -> Lesson:
    """Validate a lesson (its claims must name registered kinds) and register it under its id."""
    lesson = Lesson.model_validate(raw)
    for c in [*lesson.expect, *(lesson.try_next.expect if lesson.try_next else [])]:
        CLAIMS.get(c.claim)
    if lesson.try_next:
        base = lesson.runs[lesson.try_next.run].spec
        infer(parse_spec(merge_patch(base, lesson.try_next.patch)))
    return LESSONS.register(lesson.id, lesson)
