"""Latency reports: observed percentiles, unit conversion, kinds, every output file, the versioned
schema (validated with a JSON Schema validator), the self-contained page, reading old versions."""
import json
import re
from pathlib import Path

import jsonschema_rs
import numpy as np
import pytest

from ringgate.app.report import (SEED_LATENCY_TABLE, ReportError, Stage, load_report, summarize, write_report)
from ringgate.app.report_schema import SCHEMA, SCHEMA_NAME, SCHEMA_VERSION, field_table

ROOT = Path(__file__).resolve().parents[2]


def validate(doc: dict) -> None:
    errors = [str(e) for e in jsonschema_rs.validator_for(SCHEMA).iter_errors(doc)]
    assert not errors, errors


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


def _stages():
    rng = np.random.default_rng(1)
    return [Stage("ring accepted -> first RQ beat", rng.integers(2, 9, 5000)),
            Stage("first RQ beat -> host memory", rng.integers(100, 400, 5000), kind="modelled",
                  source="cocotbext-pcie link model"),
            Stage("end to end", rng.integers(150, 500, 5000), kind="projected", source="PCIe hard IP allowance"),
            Stage("host consumer", rng.normal(3000, 300, 5000).clip(0), unit="ns", kind="wall clock"),
            Stage("host, real time", rng.normal(900, 50, 5000).clip(0), unit="ns", kind="measured")]


def test_report_files_schema_and_self_contained_page(tmp_path):
    paths = write_report(tmp_path, _stages(), clock_mhz=250, throughput={"entries/s": "1.0e6"},
                         meta={"title": "t", "entries": 5000}, end_to_end="end to end", config={"seed": 1})
    data = json.loads(paths["json"].read_text())
    validate(data)
    assert data["schema"] == SCHEMA_NAME and data["schema_version"] == SCHEMA_VERSION
    assert [s["kind"] for s in data["stages"]] == ["exact", "modelled", "projected", "wall clock", "measured"]
    assert len(data["seed_latency_table_ns"]) == len(SEED_LATENCY_TABLE)
    assert data["config"] == {"seed": 1} and data["budget"] is None and data["timing"] is None
    md = paths["markdown"].read_text()
    assert "| ring accepted -> first RQ beat | exact | 5000 |" in md and "epoll" in md and "ringgate (this run)" in md
    page = paths["html"].read_text()
    # one file: every picture inline, nothing fetched from elsewhere
    assert page.count("<img") == 5 and page.count("src='data:image/png;base64,") == 5
    assert not re.search(r"""(src|href)=['"](?!data:)""", page)
    assert "class='modelled'" in page and "class='measured'" in page
    for i in range(5):
        assert paths[f"png{i}"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_report_with_budget_timing_and_host_sections(tmp_path):
    from ringgate.app.latency.budget import build_budget

    rng = np.random.default_rng(2)
    host = {"cursor": np.arange(100) * 1000, "callback": np.arange(100) * 1000 + 900,
            "result": np.arange(100) * 1000 + 4000, "written": np.where(np.arange(100) % 10, np.arange(100) * 1000 + 30_000, -1)}
    budget = build_budget(rng.integers(4, 6, 100), rng.integers(8, 10, 100), clock_mhz=250, host=host)
    trace = {"entry": 3, "period_ns": 4, "start_cycle": 100, "zero": 1,
             "lanes": [{"name": "ring i.valid", "kind": "bit", "values": [0, 1, 0, 0]},
                       {"name": "RQ beat", "kind": "label", "values": ["", "", "H3", "D"]}],
             "marks": [{"cycle": 1, "label": "ring accept"}]}
    hostsec = {"config": {"orders": 100, "rate": 1000.0, "burst": 1, "host_core": 0, "device_core": 1},
               "machine": {"cpu_model": "x", "cpus": 2, "loadavg": [0.1, 0.1, 0.1]},
               "modes": [{"poll": "busy", "cpu_us_per_entry": 12.5, "stages": [
                   {**summarize(Stage("cursor visible -> consumer callback", [900.0] * 10, "ns", "measured"), 1000),
                    "runs": [{"p50_ns": 900.0}, {"p50_ns": 910.0}]}]}]}
    paths = write_report(tmp_path, _stages(), budget=budget, timing=trace, host=hostsec, meta={"title": "t"})
    doc = json.loads(paths["json"].read_text())
    validate(doc)
    assert [s["kind"] for s in doc["budget"]["segments"]] == ["gap", "exact", "exact", "projected", "measured",
                                                              "measured", "measured"]
    assert [t["name"] for t in doc["budget"]["totals"]] == [
        "wire -> entry visible in host memory", "wire -> engine result", "wire -> WebSocket frame written"]
    assert doc["timing"]["wavejson"]["signal"][1] == {"name": "ring i.valid", "wave": "010."}
    page = paths["html"].read_text()
    assert page.count("<svg") == 3                     # waterfall, comparison, timing: inline
    assert "entry 3, one order cycle by cycle" in page and "Host stages in real time" in page
    assert "10 entries had no WebSocket update of their own" in page
    md = paths["markdown"].read_text()
    assert "![waterfall" in md and "(budget.svg)" in md and "| cursor visible -> consumer callback | 900 ns" in md
    for key in ("budget", "comparison", "timing"):
        assert paths[key].read_text().startswith("<svg")


def test_unknown_end_to_end_stage_refused(tmp_path):
    with pytest.raises(ValueError, match="not among"):
        write_report(tmp_path, [Stage("a", [1])], end_to_end="b")


def test_load_report_reads_version_1_and_refuses_what_it_cannot_read(tmp_path):
    v1 = {"meta": {"title": "old"}, "clock_mhz": 250.0, "stages": [summarize(Stage("a", [1, 2]), 250)],
          "throughput": {}, "seed_latency_table_ns": []}
    (tmp_path / "report.json").write_text(json.dumps(v1))
    doc = load_report(tmp_path)
    assert doc["schema_version_read"] == 1 and doc["config"] == {} and doc["budget"] is None
    bad = tmp_path / "bad"
    bad.mkdir()
    for content, msg in ((json.dumps({**v1, "schema_version": SCHEMA_VERSION + 1}), "newer"),
                         (json.dumps({**v1, "schema": "other"}), "expected"), ("{", "not JSON"),
                         (json.dumps({"x": 1}), "no stages")):
        (bad / "report.json").write_text(content)
        with pytest.raises(ReportError, match=msg):
            load_report(bad)
    with pytest.raises(ReportError, match="no such report"):
        load_report(tmp_path / "missing")


def test_docs_carry_the_schema_table():
    doc = (ROOT / "docs" / "latency.md").read_text()
    assert field_table() in doc, "docs/latency.md schema table is stale: paste `ringgate report schema --markdown`"
    assert f"version {SCHEMA_VERSION}" in doc
