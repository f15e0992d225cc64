"""Every lesson against its 30 s budget (issue 15): each lesson's runs and its try-next fork trained in
full, as the page trains them, one thread, with the claims checked.

CPU seconds of this process are the budget's measure (other load on the machine does not count
against a lesson, as wall time would); wall seconds are shown beside them. A lesson over budget, or
whose claim did not show, is a failing row, and `python -m bench lessons` exits 1.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch

from engine.lessons import LESSONS, TIME_BUDGET_S, Lesson
from engine.lessons.runner import run_lesson


@dataclass
class Row:
    lesson: Lesson
    runs: int
    cpu_s: float
    wall_s: float
    held: bool

    @property
    def ok(self) -> bool:
        return self.held and self.cpu_s < TIME_BUDGET_S


def measure(lesson: Lesson) -> Row:
    """Train one lesson in full (its try-next fork included) and time it."""
    cpu, wall = time.process_time(), time.perf_counter()
    outcomes, result, _ = run_lesson(lesson)
    return Row(lesson, len(outcomes), time.process_time() - cpu, time.perf_counter() - wall, result["held"])


def table(rows: list[Row]) -> str:
    head = f"{'lesson':<44}{'runs':>5}{'CPU s':>8}{'wall s':>8}{'budget':>8}  claim  result"
    lines = [head, "-" * len(head)]
    for r in rows:
        name = f"{r.lesson.number:>2} {r.lesson.id}"
        lines.append(f"{name:<44}{r.runs:>5}{r.cpu_s:>8.1f}{r.wall_s:>8.1f}{TIME_BUDGET_S:>8.0f}  "
                     f"{'held' if r.held else 'NOT ':<5}  {'ok' if r.ok else 'FAIL'}")
    return "\n".join(lines)


def main() -> bool:
    torch.set_num_threads(1)
    lessons = sorted((lesson for _, lesson in LESSONS.items()), key=lambda lesson: lesson.number)
    rows = [measure(lesson) for lesson in lessons]
    print(f"Lessons against the {TIME_BUDGET_S:.0f} s budget (CPU seconds of training, one thread)")
    print(table(rows))
    return all(r.ok for r in rows)
