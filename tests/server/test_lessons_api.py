"""Lessons on the server: listed in the catalog, opened by a link, and their claim checked on the
runs a page trained for them (the same engine check as tests/engine/test_lessons.py)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from engine.lessons import LESSONS
from engine.spec import merge_patch
from serverkit import Api


def test_the_catalog_lists_the_lessons_in_order(client: TestClient) -> None:
    lessons = client.get("/api/catalog").json()["lessons"]
    assert [lesson["id"] for lesson in lessons] == sorted(LESSONS.names(), key=lambda i: LESSONS.get(i).number)
    first = lessons[0]
    assert {"id", "number", "title", "text", "watch", "runs", "expect", "try_next"} <= set(first)
    assert first["expect"][0] == {"claim": "verdict", "text": first["expect"][0]["text"],
                                  "params": {"run": 0, "verdict": "underfitting", "cause": "too_small"}}


def test_a_lesson_link_opens_the_page_on_it(client: TestClient) -> None:
    r = client.get("/lessons/overfitting")
    assert r.status_code == 200 and 'data-lesson="overfitting"' in r.text
    missing = client.get("/lessons/nope")
    assert missing.status_code == 404 and "underfitting" in missing.json()["detail"]  # lists the valid ones
    assert 'data-lesson=""' in client.get("/").text


@pytest.mark.outcome
def test_the_claim_is_checked_on_the_runs_trained_for_it(api: Api, client: TestClient) -> None:
    lesson = LESSONS.get("underfitting")
    first = api.create(lesson.runs[0].spec, label=lesson.runs[0].label)["id"]
    api.wait_status(first, "finished", timeout=60)
    url = f"/api/lessons/{lesson.id}/check"
    shown = client.get(url, params={"runs": first}).json()
    assert shown["ended"] and shown["held"] and len(shown["claims"]) == 1
    assert "underfitting" in shown["claims"][0]["evidence"]

    # The try-next fork, given after the lesson's runs, is checked against its own claims too.
    t = lesson.try_next
    fork = api.create(merge_patch(lesson.runs[t.run].spec, t.patch), label=t.label, parent=first)["id"]
    api.wait_status(fork, "finished", timeout=60)
    both = client.get(url, params={"runs": f"{first},{fork}"}).json()
    assert both["held"] and [c["held"] for c in both["claims"]] == [True, True]
    assert "good_fit" in both["claims"][1]["evidence"]
    # The fork given as the lesson's own run does not show the lesson's claim.
    wrong = client.get(url, params={"runs": fork}).json()
    assert wrong["held"] is False and wrong["claims"][0]["held"] is False


def test_a_check_names_what_is_wrong(client: TestClient) -> None:
    assert client.get("/api/lessons/nope/check", params={"runs": "a"}).status_code == 404
    too_few = client.get("/api/lessons/four_cures/check", params={"runs": "a,b"})
    assert too_few.status_code == 422 and "5 runs" in too_few.json()["detail"]
    assert client.get("/api/lessons/underfitting/check", params={"runs": "f" * 32}).status_code == 404
