"""Helpers of the session and upload tests: a small client of the sessions API over TestClient,
and CSV tables to upload."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any, Optional

import numpy as np
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from serverkit import spec, strict_json, wait_for

TERMINAL = ("finished", "stopped", "failed", "diverged", "interrupted")


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


class SessionsApi:
    """The sessions API of one in-process server, with the answers parsed strictly."""

    def __init__(self, client: TestClient) -> None:
        self.c = client

    def create(self, title: str = "My session", spec_body: Optional[dict[str, Any]] = None,
               notes: Optional[str] = None) -> dict[str, Any]:
        body: dict[str, Any] = {"title": title, "spec": spec() if spec_body is None else spec_body}
        if notes is not None:
            body["notes"] = notes
        r = self.c.post("/api/sessions", json=body)
        assert r.status_code == 201, r.text
        return strict_json(r.text)

    def get(self, s: dict[str, Any], token: Optional[str] = None) -> dict[str, Any]:
        r = self.c.get(f"/api/sessions/{s['id']}", headers=bearer(token or s["edit_token"]))
        assert r.status_code == 200, r.text
        return strict_json(r.text)

    def shared(self, s: dict[str, Any]) -> dict[str, Any]:
        r = self.c.get(f"/api/shared/{s['share_token']}")
        assert r.status_code == 200, r.text
        return strict_json(r.text)

    def patch(self, s: dict[str, Any], body: dict[str, Any], status: int = 200) -> dict[str, Any]:
        r = self.c.patch(f"/api/sessions/{s['id']}", json=body, headers=bearer(s["edit_token"]))
        assert r.status_code == status, r.text
        return strict_json(r.text)

    def run(self, s: dict[str, Any], body: Optional[dict[str, Any]] = None, status: int = 201,
            **params: Any) -> dict[str, Any]:
        r = self.c.post(f"/api/sessions/{s['id']}/runs", json=body or spec(), params=params,
                        headers=bearer(s["edit_token"]))
        assert r.status_code == status, r.text
        return strict_json(r.text)

    def upload(self, s: dict[str, Any], text: str | bytes, status: int = 201, **params: Any) -> dict[str, Any]:
        data = text.encode() if isinstance(text, str) else text
        r = self.c.post(f"/api/sessions/{s['id']}/uploads", content=data, params=params,
                        headers={**bearer(s["edit_token"]), "content-type": "text/csv"})
        assert r.status_code == status, r.text
        return strict_json(r.text)

    def fork(self, s: dict[str, Any], body: Optional[dict[str, Any]] = None) -> dict[str, Any]:
        r = self.c.post(f"/api/shared/{s['share_token']}/fork", json=body)
        assert r.status_code == 201, r.text
        return strict_json(r.text)

    def run_state(self, run_id: str) -> dict[str, Any]:
        r = self.c.get(f"/api/runs/{run_id}")
        assert r.status_code == 200, r.text
        return strict_json(r.text)

    def wait_done(self, run_id: str, timeout: float = 30.0) -> dict[str, Any]:
        return wait_for(lambda: (r := self.run_state(run_id))["status"] in TERMINAL and r, timeout,
                        what=f"run {run_id[:8]} to end")

    def wait_saved(self, s: dict[str, Any], run_id: str, timeout: float = 10.0) -> dict[str, Any]:
        """The run as the session shows it, once it has ended and its weights are in the database."""
        def done() -> Any:
            runs = {r["id"]: r for r in self.get(s)["runs"]}
            r = runs.get(run_id)
            return r if r and r["status"] in TERMINAL and r["has_weights"] else None

        return wait_for(done, timeout, what=f"run {run_id[:8]} to be saved")


def db_count(db: Path | str, table: str, where: str = "1=1", **params: Any) -> int:
    """Rows in a table of the server's database (a SQLite file, or any SQLAlchemy URL), read on a
    connection of the test's own."""
    url = db if isinstance(db, str) else f"sqlite:///{db}"
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(text(f"SELECT count(*) FROM {table} WHERE {where}"), params).scalar_one()
    finally:
        engine.dispose()


def db_rows(url: str, table: str) -> list[dict[str, Any]]:
    """Every row of a table of the server's database, as dicts."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(text(f"SELECT * FROM {table}"))]
    finally:
        engine.dispose()


def table_text(rows: list[list[Any]], header: list[str]) -> str:
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(header)
    w.writerows(rows)
    return out.getvalue()


def flowers(n: int = 150, seed: int = 0) -> str:
    """Three separable species from four measurements, an id column of text, a class-name target."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        k = i % 3
        x = rng.normal(loc=[k * 2.0, -k, k * 0.5, 1.0], scale=0.4)
        rows.append([f"plant-{i}", *[round(float(v), 4) for v in x], ["setosa", "versicolor", "virginica"][k]])
    return table_text(rows, ["id", "sepal_length", "sepal_width", "petal_length", "petal_width", "species"])


def house_prices(n: int = 120, seed: int = 1) -> str:
    rng = np.random.default_rng(seed)
    rows = []
    for _ in range(n):
        area, rooms = rng.uniform(0, 1), rng.uniform(0, 1)
        rows.append([round(area, 4), round(rooms, 4), round(0.8 * area - 0.3 * rooms + rng.normal(0, 0.02), 4)])
    return table_text(rows, ["area", "rooms", "price"])
