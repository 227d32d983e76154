"""Latency reports: observed percentiles, unit conversion, kinds, and every output file."""
import json

import numpy as np
import pytest

from ringgate.app.report import SEED_LATENCY_TABLE, Stage, summarize, write_report


def test_percentiles_are_observed_values_in_cycles_and_ns():
    s = Stage("ring -> rq", np.array([3] * 1970 + [4] * 29 + [40]))
    r = summarize(s, clock_mhz=250)
    assert (r["min_cycles"], r["p50_cycles"], r["p99_cycles"], r["p99.9_cycles"], r["max_cycles"]) == (3, 3, 4, 4, 40)
    assert r["p50_ns"] == 12.0 and r["max_ns"] == 160.0 and r["count"] == 2000


def test_wall_clock_stage_stays_in_ns():
    r = summarize(Stage("host sees it", [1500.0, 2500.0], unit="ns", kind="wall clock"), clock_mhz=250)
    assert r["p50_ns"] == 1500.0 and "p50_cycles" not in r and r["kind"] == "wall clock"


@pytest.mark.parametrize("kw,msg", [({"kind": "guessed"}, "kind"), ({"unit": "us"}, "unit"),
                                    ({"samples": []}, "non-empty"), ({"samples": [1, -2]}, ">= 0"),
                                    ({"samples": [1, float("nan")]}, "finite")])
def test_bad_stages_are_refused(kw, msg):
    args = {"name": "x", "samples": [1, 2], **kw}
    with pytest.raises(ValueError, match=msg):
        Stage(**args)


def test_bad_clock_refused():
    with pytest.raises(ValueError, match="clock"):
        summarize(Stage("x", [1]), clock_mhz=0)


def test_report_files(tmp_path):
    rng = np.random.default_rng(1)
    stages = [Stage("ring accepted -> first RQ beat", rng.integers(2, 9, 5000)),
              Stage("first RQ beat -> host memory", rng.integers(100, 400, 5000), kind="modelled",
                    source="cocotbext-pcie link model"),
              Stage("end to end", rng.integers(150, 500, 5000), kind="projected", source="PCIe hard IP allowance"),
              Stage("host consumer", rng.normal(3000, 300, 5000).clip(0), unit="ns", kind="wall clock")]
    paths = write_report(tmp_path, stages, clock_mhz=250, throughput={"entries/s": "1.0e6"},
                         meta={"title": "t", "entries": 5000}, end_to_end="end to end")
    data = json.loads(paths["json"].read_text())
    assert [s["kind"] for s in data["stages"]] == ["exact", "modelled", "projected", "wall clock"]
    assert len(data["seed_latency_table_ns"]) == len(SEED_LATENCY_TABLE)
    md = paths["markdown"].read_text()
    assert "| ring accepted -> first RQ beat | exact | 5000 |" in md and "epoll" in md and "ringgate (this run)" in md
    page = paths["html"].read_text()
    assert page.count("<img") == 4 and "class='modelled'" in page
    for i in range(4):
        assert paths[f"png{i}"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_unknown_end_to_end_stage_refused(tmp_path):
    with pytest.raises(ValueError, match="not among"):
        write_report(tmp_path, [Stage("a", [1])], end_to_end="b")
