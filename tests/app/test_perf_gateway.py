"""Smoke test of ``ringgate perf gateway --quick``: every stage runs against a real server in
another process, every request is answered with 2xx, every fan-out delivery arrives. Numbers are
printed by the script, never asserted (the machine is shared)."""
from __future__ import annotations

from ringgate.app.perf.gateway import run


def test_bench_quick_runs_end_to_end(tmp_path):
    res = run(quick=True, fsync="memory", json_out=str(tmp_path / "b.json"))
    assert res["closed_c16_d16_rps"] > 0 and res["closed_c16_d16_non2xx"] == 0
    o = res["open_2000"]
    assert o["done"] == o["sent"] == 2000 and o["non2xx"] == 0 and o["updates"] == 2000
    f = res["ws_fanout_n10"]
    assert f["deliveries"] == f["expected"]
    assert 0 < res["idle_rss_mb"] < 100
    assert res["cpu_us_per_order_d16"] > 0
    assert (tmp_path / "b.json").exists()
