"""Smoke test of ``python -m sw.gateway.bench --quick``: every stage runs against a real server in
another process, every request is answered with 2xx, every fan-out delivery arrives. Numbers are
printed by the script, never asserted (the machine is shared)."""
from __future__ import annotations

from sw.gateway.bench import main


def test_bench_quick_runs_end_to_end(tmp_path):
    res = main(["--quick", "--fsync", "memory", "--json", str(tmp_path / "b.json")])
    assert res["closed_c16_d16_rps"] > 0 and res["closed_c16_d16_non2xx"] == 0
    o = res["open_2000"]
    assert o["done"] == o["sent"] == 2000 and o["non2xx"] == 0 and o["updates"] == 2000
    f = res["ws_fanout_n10"]
    assert f["deliveries"] == f["expected"]
    assert 0 < res["idle_rss_mb"] < 100
    assert res["cpu_us_per_order_d16"] > 0
    assert (tmp_path / "b.json").exists()
