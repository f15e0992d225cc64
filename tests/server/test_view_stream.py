"""The CNN's views through the server: the catalog lists them, they stream, and a digit picked over
the websocket comes back as its feature maps, at once while the run is paused."""

from __future__ import annotations

from serverkit import Api, LiveServer, spec

DIGITS_CNN = {"data": {"dataset": "digits", "n_samples": 300},
              "model": {"layers": [{"type": "conv2d", "filters": 4, "kernel_size": 3, "activation": "relu"},
                                   {"type": "flatten"}]},
              "training": {"epochs": 2000, "optimizer": "adam", "lr": 0.01, "batch_size": 32}}


def test_the_catalog_lists_views_per_task(api: Api) -> None:
    tasks = {t["name"]: t for t in api.get("/api/catalog")["tasks"]}
    kinds = [v["kind"] for v in tasks["classification"]["views"]]
    assert kinds[:5] == ["boundary", "confusion", "misclassified", "filters", "feature_maps"]
    assert {v["kind"]: v["data_kinds"] for v in tasks["classification"]["views"]}["filters"] == ["image"]
    assert [v["kind"] for v in tasks["forecasting"]["views"]] == ["forecast", "weights"]


def test_a_picked_digit_comes_back_as_its_feature_maps(live: LiveServer) -> None:
    run_id = live.api.create(spec(DIGITS_CNN))["id"]
    s = live.stream(run_id)
    try:
        first = s.until(lambda m: m["type"] == "snapshot" and m["kind"] == "feature_maps")
        assert first["index"] == 0 and len(first["choices"]) == 16
        assert {"filters", "confusion", "misclassified"} <= {m.get("kind") for m in s.messages}
        s.send({"action": "pick", "index": 7})  # while running: answered after the next epoch
        running = s.until(lambda m: m["type"] == "snapshot" and m["kind"] == "feature_maps" and m["index"] == 7)
        assert running["label"] == first["choice_labels"][7]
        s.send({"action": "pause"})
        s.until(lambda m: m["type"] == "status" and m["status"] == "paused")
        epoch = live.api.wait_settled(run_id)["history"]["epoch"][-1]  # the epoch in flight has landed
        s.send({"action": "pick", "index": 3})  # while paused: answered without an epoch
        paused = s.until(lambda m: m["type"] == "snapshot" and m["kind"] == "feature_maps" and m["index"] == 3)
        assert paused["epoch"] == epoch and live.api.run(run_id)["history"]["epoch"][-1] == epoch
        maps = paused["layers"][0]["maps"]
        assert (len(maps), len(maps[0]), len(maps[0][0])) == (4, 8, 8)
        s.send({"action": "stop"})
        assert s.until_end()["status"] == "stopped"
    finally:
        s.close()
    snaps = live.api.run(run_id)["snapshots"]
    assert snaps["feature_maps"]["index"] == 3  # the pick stays with the run's last snapshots
    assert "already ended" in live.api.control(run_id, {"action": "pick", "index": 1}, status=409)["detail"]
    assert live.api.control(run_id, {"action": "pick", "index": 16}, status=422)["errors"]
