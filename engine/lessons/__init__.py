"""Lessons: each concept of the source article as a guided experiment whose claim its runs prove."""

from __future__ import annotations

from . import builtin  # noqa: F401 - the one place where the built-in lessons register
from .claims import CLAIMS, Outcome, check, outcome_of
from .lesson import LESSONS, TIME_BUDGET_S, Claim, Lesson, LessonRun, TryNext, register

__all__ = ["CLAIMS", "LESSONS", "TIME_BUDGET_S", "Claim", "Lesson", "LessonRun", "Outcome", "TryNext", "check",
           "outcome_of", "register"]
