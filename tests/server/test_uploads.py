"""Bring your own data: CSV uploads over the real API on a real SQLite file.

A good file trains end to end, as classification or regression. A bad one gets 422 (413 when
too big) with a message that names the row and the column, and leaves no row behind.
"""

from __future__ import annotations

from pathlib import Path
from statistics import mean
from typing import Any

import pytest

from serverkit import spec, strict_json
from sessions_kit import SessionsApi, bearer, db_count, flowers, house_prices, table_text


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "layerlab.db"


def train_spec(upload: dict[str, Any], **training: Any) -> dict[str, Any]:
    return spec({"task": upload["task"], "data": upload["data"],
                 "model": {"layers": [{"type": "dense", "units": 16, "activation": "relu"}]},
                 "training": {"optimizer": "adam", "lr": 0.03, "epochs": 40, "batch_size": 16, **training}})


@pytest.mark.outcome
def test_a_classification_csv_trains_end_to_end(sapi, client):
    s = sapi.create()
    up = sapi.upload(s, flowers(), filename="flowers.csv")
    assert up["filename"] == "flowers.csv" and up["n_rows"] == 150
    assert [c["name"] for c in up["columns"]][0] == "id" and up["columns"][0]["numeric"] is False
    # Defaults: the last column is the target; the numeric others are the features; text labels: classes.
    assert up["features"] == ["sepal_length", "sepal_width", "petal_length", "petal_width"]
    assert (up["target"], up["task"], up["n_classes"]) == ("species", "classification", 3)
    assert up["classes"] == ["setosa", "versicolor", "virginica"]
    assert up["data"] == {"dataset": "csv", "upload": up["id"], "features": up["features"], "target": "species",
                          "n_classes": 3}
    run = sapi.run(s, train_spec(up))
    assert run["summary"]["input_shape"] == [4] and run["summary"]["layers"][-1]["output_shape"] == [3]
    done = sapi.wait_done(run["id"])
    assert done["status"] == "finished", done["error"]
    assert mean(done["history"]["val_acc"][-5:]) > 0.9  # a window, not one epoch: robust to CPU kernels
    assert done["spec"]["data"]["upload"] == up["id"]
    assert sapi.get(s)["uploads"] == [up]


@pytest.mark.outcome
def test_a_regression_csv_trains_end_to_end_and_draws_its_surface(sapi):
    s = sapi.create()
    up = sapi.upload(s, house_prices())
    assert (up["task"], up["n_classes"], up["classes"], up["target"]) == ("regression", None, None, "price")
    assert "n_classes" not in up["data"]
    run = sapi.run(s, train_spec(up, epochs=60))
    done = sapi.wait_done(run["id"])
    assert done["status"] == "finished", done["error"]
    assert mean(done["history"]["val_loss"][-5:]) < 0.5 * done["history"]["val_loss"][0]
    assert done["history"]["val_acc"][-1] is None
    assert done["snapshots"]["surface"]["n"] == 64  # two features: the page draws the fitted surface


def test_the_columns_and_the_task_can_be_chosen(sapi):
    s = sapi.create()
    up = sapi.upload(s, house_prices(), features=["rooms"], target="area", task="regression")
    assert (up["features"], up["target"], up["task"]) == (["rooms"], "area", "regression")
    # A whole-number target with few values reads as classes unless the task says otherwise.
    text = table_text([[i * 0.1, i % 4] for i in range(40)], ["x", "level"])
    assert sapi.upload(s, text)["task"] == "classification"
    assert sapi.upload(s, text, task="regression")["task"] == "regression"
    # Numeric labels are ordered by value; '1' and '1.0' are one class.
    text = table_text([[i, ["2", "10", "1", "1.0"][i % 4]] for i in range(20)], ["x", "y"])
    assert sapi.upload(s, text)["classes"] == ["1", "2", "10"]
    # Semicolons and tabs separate too.
    assert sapi.upload(s, "a;b;y\n" + "".join(f"{i};{i * 2};{i % 2}\n" for i in range(10)))["features"] == ["a", "b"]
    assert sapi.upload(s, "a\tb\ty\n" + "".join(f"{i}\t{i * 2}\t{i % 2}\n" for i in range(10)))["n_rows"] == 10


def test_a_spec_can_choose_other_columns_of_an_upload(sapi):
    s = sapi.create()
    up = sapi.upload(s, flowers())
    data = {**up["data"], "features": ["sepal_length", "petal_width"]}
    run = sapi.run(s, train_spec({"task": "classification", "data": data}, epochs=5))
    assert run["summary"]["input_shape"] == [2]
    done = sapi.wait_done(run["id"])
    assert done["status"] == "finished" and done["snapshots"]["boundary"]["classes"] == 3


BAD_FILES = [
    ("empty", b"", "file", "the file is empty", None, None),
    ("blank lines only", b"\n\n  \n", "file", "the file is empty", None, None),
    ("header only", b"a,b,y\n", "file", "no data rows", 2, None),
    ("ragged row", b"a,b,y\n1,2,x\n3,4,y\n5,6\n7,8,x\n", "file", "row 4 has 2 values", 4, "y"),
    ("a row too long", b"a,b,y\n1,2,x\n3,4,y,9\n", "file", "row 3 has 4 values", 3, None),
    ("text in a numeric column", b"a,b,y\n1,2,x\n3,4,y\n5,oops,x\n7,8,y\n9,1,x\n",
     "file", "row 4, column 'b': 'oops' is not a number", 4, "b"),
    ("missing target", b"a,b,y\n1,2,x\n3,4,\n5,6,x\n7,8,y\n", "file", "row 3, column 'y': the target is missing", 3, "y"),
    ("missing feature value", b"a,b,y\n1,2,x\n3,,y\n5,6,x\n7,8,y\n", "file", "row 3, column 'b': the value is missing", 3, "b"),
    ("not finite", b"a,b,y\n1,2,x\n3,inf,y\n5,6,x\n7,8,y\n", "file", "row 3, column 'b': 'inf' is not a finite number", 3, "b"),
    ("one class only", b"a,b,y\n1,2,cat\n3,4,cat\n5,6,cat\n7,8,cat\n", "target", "column 'y' has only one class ('cat')", None, "y"),
    ("too few rows", b"a,b,y\n1,2,x\n3,4,y\n", "file", "at least 4", None, None),
    ("unnamed column", b"a,,y\n1,2,x\n", "file", "row 1 (the header): column 2 has no name", 1, "2"),
    ("duplicate name", b"a,b,a\n1,2,3\n", "file", "the name 'a' is used by columns 1 and 3", 1, "a"),
    ("one column", b"y\n1\n2\n", "file", "a dataset needs at least a feature and a target", 1, None),
    ("not utf-8", b"a,b,y\n1,2,\xff\xfe\n", "file", "row 2: the file is not UTF-8 text", 2, None),
    ("NUL byte", b"a,b,y\n1,2,x\x00\n", "file", "row 2: the file holds a NUL byte", 2, None),
    ("unterminated quote", b'a,b,y\n1,2,"x\n3,4,y\n', "file", "not valid CSV", 3, None),
    ("no numeric feature", b"a,y\nx,1\ny,2\n", "features", "no column besides the target 'y' holds numbers", None, None),
]


@pytest.mark.parametrize("name,body,path,message,row,column", BAD_FILES, ids=[b[0] for b in BAD_FILES])
def test_a_bad_file_names_the_row_and_column_and_leaves_nothing(sapi, client, db, name, body, path, message, row,
                                                                column):
    s = sapi.create()
    err = sapi.upload(s, body, status=422)
    (item,) = err["errors"]
    assert message in item["message"], item
    assert (item["path"], item["row"], item["column"]) == (path, row, column), item
    assert db_count(db, "uploads") == 0
    assert sapi.get(s)["uploads"] == []


BAD_CHOICES = [
    ({"target": "nope"}, "target", "there is no column 'nope'; the columns are 'a', 'b', 'y'"),
    ({"features": ["a", "zz"]}, "features", "there is no column 'zz'"),
    ({"features": ["a", "y"]}, "features", "the target 'y' cannot also be a feature"),
    ({"features": ["a", "a"]}, "features", "chosen twice"),
    ({"task": "regression"}, "file", "row 2, column 'y': 'x' is not a number"),
    ({"task": "clustering"}, "task", "unknown task 'clustering'"),
]


@pytest.mark.parametrize("params,path,message", BAD_CHOICES)
def test_a_bad_choice_of_columns_is_refused_and_leaves_nothing(sapi, db, params, path, message):
    s = sapi.create()
    body = table_text([[i, i * 2, "xy"[i % 2]] for i in range(10)], ["a", "b", "y"])
    (item,) = sapi.upload(s, body, status=422, **params)["errors"]
    assert message in item["message"] and item["path"] == path, item
    assert db_count(db, "uploads") == 0


def test_too_many_rows_or_columns_are_refused(make_client, tmp_path):
    sapi = SessionsApi(make_client(max_samples=50))
    s = sapi.create(spec_body=spec({"data": {"n_samples": 50}}))
    (item,) = sapi.upload(s, house_prices(n=51), status=422)["errors"]
    assert "more than 50 data rows" in item["message"] and item["row"] == 52  # the 51st data row
    assert sapi.upload(s, house_prices(n=50))["n_rows"] == 50
    wide = ",".join(f"c{i}" for i in range(257)) + "\n" + ",".join("1" for _ in range(257)) + "\n"
    (item,) = sapi.upload(s, wide, status=422)["errors"]
    assert "the header has 257 columns; the cap is 256" in item["message"]
    assert db_count(tmp_path / "layerlab.db", "uploads") == 1


def test_a_file_over_the_size_cap_gets_413_without_being_read(make_client, tmp_path):
    client = make_client(max_upload_bytes=1000)
    sapi = SessionsApi(client)
    s = sapi.create()
    big = house_prices(n=100).encode()
    assert len(big) > 1000
    r = client.post(f"/api/sessions/{s['id']}/uploads", content=big, headers=bearer(s["edit_token"]))
    assert r.status_code == 413 and "the cap is 1,000 bytes" in r.json()["detail"]

    def chunks():  # no Content-Length: the cap is enforced while streaming
        for i in range(0, len(big), 100):
            yield big[i:i + 100]

    r = client.post(f"/api/sessions/{s['id']}/uploads", content=chunks(), headers=bearer(s["edit_token"]))
    assert r.status_code == 413 and "larger than the cap" in r.json()["detail"]
    assert db_count(tmp_path / "layerlab.db", "uploads") == 0
    assert sapi.upload(s, big[:900].rsplit(b"\n", 1)[0] + b"\n")["n_rows"] > 4


def test_uploaded_data_trains_only_inside_its_own_session(sapi, client):
    s, other = sapi.create(), sapi.create()
    up = sapi.upload(s, flowers())
    body = train_spec(up, epochs=2)
    r = client.post("/api/runs", json=body)
    assert r.status_code == 422 and r.json()["errors"][0]["path"] == "data.upload"
    err = sapi.run(other, body, status=422)
    assert err["errors"] == [{"path": "data.upload", "message": f"there is no upload {up['id']!r} in this session"}]
    err = sapi.patch(other, {"spec": body}, status=422)
    assert err["errors"][0]["path"] == "data.upload"
    r = client.post("/api/sessions", json={"title": "new", "spec": body})
    assert r.status_code == 422 and r.json()["errors"][0]["path"] == "data.upload"
    sapi.patch(s, {"spec": body})  # its own session may save it


def test_a_spec_on_an_upload_is_checked_against_it(sapi):
    s = sapi.create()
    up = sapi.upload(s, flowers())
    cases = [
        ({"n_classes": 4}, "data.n_classes", "data.n_classes is 4 but column 'species' has 3 classes"),
        ({"features": ["id", "sepal_width"]}, "data.features", "column 'id': 'plant-0' is not a number"),
        ({"target": "nope"}, "data.target", "there is no column 'nope'"),
    ]
    for patch, path, message in cases:
        err = sapi.run(s, train_spec({"task": "classification", "data": {**up["data"], **patch}}), status=422)
        assert err["errors"][0]["path"] == path and message in err["errors"][0]["message"], err
    no_classes = {k: v for k, v in up["data"].items() if k != "n_classes"}
    err = sapi.run(s, train_spec({"task": "classification", "data": no_classes}), status=422)
    assert "needs data.n_classes" in err["errors"][0]["message"]
    err = sapi.run(s, spec({"data": {"dataset": "csv", "upload": up["id"]}}), status=422)
    assert {e["path"] for e in err["errors"]} == {"data.features", "data.target"}
    err = sapi.run(s, spec({"data": {"upload": up["id"]}}), status=422)
    assert err["errors"][0] == {"path": "data.upload", "message": "dataset 'circle' takes no upload; only uploaded data does"}


def test_the_share_link_reads_uploads_and_previews_them(sapi, client):
    s = sapi.create()
    up = sapi.upload(s, flowers(n=30))
    shared = sapi.shared(s)
    assert shared["uploads"] == [up]
    r = client.get(f"/api/shared/{s['share_token']}/uploads/{up['id']}")
    assert r.status_code == 200 and strict_json(r.text) == up
    body = {"data": {**up["data"], "features": ["sepal_length", "sepal_width"]}, "task": "classification"}
    for url, headers in ((f"/api/shared/{s['share_token']}/data/preview", {}),
                         (f"/api/sessions/{s['id']}/data/preview", bearer(s["edit_token"]))):
        r = client.post(url, json=body, headers=headers)
        assert r.status_code == 200, r.text
        p = r.json()
        assert (p["kind"], p["n_classes"], p["n_train"] + p["n_val"]) == ("2d", 3, 30)
        assert len(p["train"]["x"][0]) == 2
    # A share link previews built-in data too, and cannot write.
    r = client.post(f"/api/shared/{s['share_token']}/data/preview", json={"data": {"dataset": "moons"}})
    assert r.status_code == 200 and r.json()["kind"] == "2d"
    r = client.post(f"/api/sessions/{s['id']}/uploads", content=flowers(n=10).encode(), headers=bearer(s["share_token"]))
    assert r.status_code == 403
    assert client.post("/api/data/preview", json=body).status_code == 422  # uploads preview in their session


def test_delete_an_upload_and_a_session_takes_its_uploads(sapi, client, db):
    s = sapi.create()
    a, b = sapi.upload(s, flowers(n=12)), sapi.upload(s, house_prices(n=12))
    url = f"/api/sessions/{s['id']}/uploads/{a['id']}"
    assert client.get(url, headers=bearer(s["edit_token"])).status_code == 200
    assert client.delete(url, headers=bearer(s["edit_token"])).status_code == 204
    assert client.delete(url, headers=bearer(s["edit_token"])).status_code == 404
    assert [u["id"] for u in sapi.get(s)["uploads"]] == [b["id"]]
    assert client.delete(f"/api/sessions/{s['id']}", headers=bearer(s["edit_token"])).status_code == 204
    assert db_count(db, "uploads") == 0


def test_a_fork_copies_uploads_and_trains_on_its_own_copy(sapi, client):
    s = sapi.create()
    up = sapi.upload(s, flowers(n=60))
    body = train_spec(up, epochs=3)
    sapi.patch(s, {"spec": body})
    run = sapi.run(s, body)
    sapi.wait_saved(s, run["id"])
    f = sapi.fork(s)
    copy = sapi.get(f)
    (mine,) = copy["uploads"]
    assert mine["id"] != up["id"] and {**mine, "id": up["id"], "data": up["data"], "created_at": up["created_at"]} == up
    assert copy["spec"]["data"]["upload"] == mine["id"]
    assert copy["runs"][0]["spec"]["data"]["upload"] == mine["id"]
    # The original's upload goes; the fork still trains (and exports) on its own copy.
    client.delete(f"/api/sessions/{s['id']}/uploads/{up['id']}", headers=bearer(s["edit_token"]))
    done = sapi.wait_done(sapi.run(f, copy["spec"])["id"])
    assert done["status"] == "finished", done["error"]
    assert done["history"] == copy["runs"][0]["history"] | {"step_time": done["history"]["step_time"]}
    assert client.get(f"/api/runs/{copy['runs'][0]['id']}/export.py").status_code == 200
    # The original's run lost its data: its export says so.
    assert client.get(f"/api/runs/{run['id']}/export.py").status_code == 404
