"""Lessons: every built-in lesson's runs trained for real, its claim checked, within its time budget;
and a lesson is validated like a spec when it registers."""

from __future__ import annotations

import time

import pytest

from engine.errors import SpecError, UnknownNameError
from engine.lessons import CLAIMS, LESSONS, TIME_BUDGET_S, Claim, check, register
from engine.lessons.runner import run_lesson, train_one

CIRCLE_LINEAR = {"data": {"dataset": "circle", "seed": 1}, "model": {"layers": []},
                 "training": {"epochs": 30, "device": "cpu"}}


@pytest.mark.outcome
@pytest.mark.parametrize("lesson_id", LESSONS.names())
def test_each_lesson_proves_its_claim_within_its_budget(lesson_id: str) -> None:
    lesson = LESSONS.get(lesson_id)
    cpu0 = time.thread_time()
    outcomes, result, _ = run_lesson(lesson)
    cpu = time.thread_time() - cpu0  # this thread's CPU seconds: what the training cost, however busy the machine
    assert result["held"], [c["evidence"] for c in result["claims"] if not c["held"]]
    n_claims = len(lesson.expect) + (len(lesson.try_next.expect) if lesson.try_next else 0)
    assert len(result["claims"]) == n_claims and all(c["evidence"] for c in result["claims"])
    assert cpu < TIME_BUDGET_S, f"{lesson_id} took {cpu:.1f} CPU s to train"
    assert len(outcomes) == len(lesson.runs) + bool(lesson.try_next)


def test_the_catalog_covers_the_articles_feedforward_concepts() -> None:
    numbers = {lesson.number for _, lesson in LESSONS.items()}
    assert {1, 2, 3, 4, 5, 6, 7, 8, 10, 11} <= numbers
    for _, lesson in LESSONS.items():
        assert lesson.text and lesson.watch and lesson.expect
        public = lesson.public()
        assert public["runs"][0]["spec"]["data"]["dataset"] and public["expect"][0]["text"]


@pytest.mark.outcome
def test_a_claim_that_did_not_show_says_so_with_the_diagnosis_words() -> None:
    linear = train_one("Linear", CIRCLE_LINEAR)
    claims = [Claim(claim="verdict", text="fits", params={"run": 0, "verdict": "good_fit"}),
              Claim(claim="verdict", text="underfits", params={"run": 0, "verdict": "underfitting"})]
    result = check(claims, [linear])
    assert [c["held"] for c in result["claims"]] == [False, True] and result["held"] is False
    assert "underfitting" in result["claims"][0]["evidence"]
    assert linear.diagnosis["reason"] in result["claims"][0]["evidence"]
    # A claim about a run that is not there is not shown, rather than an error.
    missing = check([Claim(claim="verdict", text="x", params={"run": 3, "verdict": "good_fit"})], [linear])
    assert missing["held"] is False and "not shown yet" in missing["claims"][0]["evidence"]


def _lesson(**over):
    base = {"id": "probe", "number": 99, "title": "t", "family": "feedforward", "text": ["p"], "watch": "w",
            "runs": [{"label": "a", "spec": CIRCLE_LINEAR}],
            "expect": [{"claim": "verdict", "text": "x", "params": {"run": 0, "verdict": "underfitting"}}]}
    return {**base, **over}


def test_a_lesson_is_validated_when_it_registers() -> None:
    bad_spec = {**CIRCLE_LINEAR, "model": {"layers": [{"type": "dense", "units": 0}]}}
    with pytest.raises(Exception) as info:
        register(_lesson(id="bad_spec", runs=[{"label": "a", "spec": bad_spec}]))
    assert "model.layers[0].units" in str(info.value)
    with pytest.raises(UnknownNameError) as unknown:
        register(_lesson(id="bad_claim", expect=[{"claim": "magic", "text": "x"}]))
    assert "verdict" in str(unknown.value) and "beats" in str(unknown.value)  # lists the valid kinds
    with pytest.raises(SpecError):
        register(_lesson(id="bad_next", try_next={"label": "n", "text": "t",
                                                  "patch": {"training": {"epochs": -1}}}))
    assert "bad_spec" not in LESSONS and "bad_claim" not in LESSONS and "bad_next" not in LESSONS
    assert {"verdict", "val_min_early", "beats", "fewer_params_no_worse", "throughput_rises", "beats_naive",
            "modes_covered"} <= set(CLAIMS.names())


@pytest.mark.outcome
def test_the_bench_times_a_lesson_against_the_budget() -> None:
    """`make bench` runs bench/lessons_bench.py over every lesson; one cheap lesson through it here."""
    from bench.lessons_bench import measure, table

    row = measure(LESSONS.get("underfitting"))
    assert row.held and row.ok and row.runs == 2 and 0 < row.cpu_s < TIME_BUDGET_S
    assert " 1 underfitting" in table([row]) and table([row]).rstrip().endswith("ok")
