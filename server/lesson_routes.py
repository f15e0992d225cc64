"""Lessons: the claim check of a lesson's runs, and the shareable page link /lessons/<id>.

The lessons themselves are served in /api/catalog; this answers whether the runs a page trained
for a lesson showed its claim, with the same engine code the engine's tests check it with.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse

from engine.errors import UnknownNameError
from engine.lessons import LESSONS, Lesson, check, outcome_of

from .deps import ManagerDep
from .pages import page

router = APIRouter()
MAX_RUNS = 6  # a lesson's runs and its try-next fork


def _lesson(lesson_id: str) -> Lesson:
    try:
        return LESSONS.get(lesson_id)
    except UnknownNameError as e:
        raise HTTPException(404, str(e)) from None


@router.get("/api/lessons/{lesson_id}/check")
async def check_lesson(lesson_id: str, manager: ManagerDep,
                       runs: Annotated[str, Query(description="the lesson's run ids in its order, comma-separated; "
                                                  "its try-next fork last")],
                       ) -> dict[str, Any]:
    """Whether the lesson's claim showed in these runs: each claim with its evidence in words.

    The try-next claims are checked too when one more run than the lesson has is given.
    """
    lesson = _lesson(lesson_id)
    ids = [i for i in runs.split(",") if i][:MAX_RUNS]
    if len(ids) < len(lesson.runs):
        raise HTTPException(422, f"this lesson has {len(lesson.runs)} runs; {len(ids)} given")
    outcomes = []
    for run_id in ids:
        run = await manager.get(run_id)
        if run is None:
            raise HTTPException(404, f"no run {run_id!r}")
        outcomes.append(outcome_of(run.label or run_id, run.history, run.diagnosis, run.spec.to_json(),
                                   int((run.summary or {}).get("total_params", 0)), run.end))
    claims = list(lesson.expect)
    if lesson.try_next and len(ids) > len(lesson.runs):
        claims += lesson.try_next.expect
    ended = all(o.status not in ("running", "queued", "paused") for o in outcomes)
    return {"lesson": lesson.id, "ended": ended, **check(claims, outcomes)}


@router.get("/lessons/{lesson_id}", response_class=HTMLResponse, include_in_schema=False)
async def lesson_page(request: Request, lesson_id: str) -> HTMLResponse:
    """The playground, opened on a lesson: the link a teacher hands out."""
    return page(request, lesson=_lesson(lesson_id).id)
