"""``ringgate report compare``: exact stages in cycles (a regression fails the command), measured
stages against their run-to-run spread, configs that differ refused, old report versions read."""
import json

import numpy as np
import pytest
from click.testing import CliRunner

from ringgate.app.latency.cli import report
from ringgate.app.latency.compare import EXIT_NOT_COMPARABLE, EXIT_REGRESSION, compare, write_comparison
from ringgate.app.report import Stage, summarize, write_report

CONFIG = {"orders": 300, "seed": 2, "load": "0.25", "width": 256}


def _host(p50s):
    """A host section whose one measured stage has these per-run p50s (pooled p50: their median)."""
    row = summarize(Stage("cursor visible -> engine result", np.full(10, float(np.median(p50s))), "ns", "measured"),
                    1000)
    row["runs"] = [{"p50_ns": v, "p99_ns": v * 3} for v in p50s]
    row["p99_ns"] = float(np.median(p50s)) * 3
    return {"config": {}, "machine": {}, "modes": [{"poll": "busy", "cpu_us_per_entry": 10.0, "stages": [row]}]}


def _report(d, *, first=4, extra_cycle_at=None, config=CONFIG, host_p50s=(10_000, 11_000, 12_000), host_full=0):
    cyc = np.full(1000, first)
    if extra_cycle_at is not None:
        cyc[extra_cycle_at] += 1
    stages = [Stage("ring accept -> first RQ beat of its data TLP", cyc),
              Stage("ring accept -> cursor line written to host memory", np.full(1000, 52.0), "ns", "modelled")]
    write_report(d, stages, config=config, host=_host(host_p50s),
                 throughput={"host ring full (cycles)": host_full})
    return d


def test_same_runs_compare_clean(tmp_path):
    a, b = _report(tmp_path / "a"), _report(tmp_path / "b")
    c = compare(a, b)
    assert not c.regressions and not c.config_diff
    rows = {r["name"]: r for r in c.rows}
    assert rows["ring accept -> first RQ beat of its data TLP"]["verdict"] == "same"
    assert rows["host [busy]: cursor visible -> engine result"]["verdict"] == "within spread"
    r = CliRunner().invoke(report, ["compare", str(a), str(b)])
    assert r.exit_code == 0, r.output
    assert "No exact-cycle regression" in r.output


def test_one_more_cycle_at_p99_is_a_regression_and_fails(tmp_path):
    a = _report(tmp_path / "a")
    b = _report(tmp_path / "b", extra_cycle_at=np.arange(0, 1000, 50))   # 2% of the entries one cycle later
    c = compare(a, b)
    assert c.regressions == ["ring accept -> first RQ beat of its data TLP: p99 4 -> 5, p99.9 4 -> 5, max 4 -> 5"]
    r = CliRunner().invoke(report, ["compare", str(a), str(b), "--out", str(tmp_path / "cmp")])
    assert r.exit_code == EXIT_REGRESSION, r.output
    assert "exact-cycle regression" in r.output
    for f in ("compare.json", "compare.md", "compare.html", "compare.svg"):
        assert (tmp_path / "cmp" / f).stat().st_size > 100
    assert json.loads((tmp_path / "cmp" / "compare.json").read_text())["regressions"] == c.regressions
    # within a tolerance it passes; and the reverse direction is an improvement, not a failure
    assert CliRunner().invoke(report, ["compare", str(a), str(b), "--tolerance", "1"]).exit_code == 0
    back = compare(b, a)
    assert not back.regressions
    assert {r["name"]: r for r in back.rows}["ring accept -> first RQ beat of its data TLP"]["verdict"] == "faster"


def test_a_regression_while_the_host_held_the_device_back_says_so(tmp_path):
    # a full host ring stalls the DMA writer: its exact cycles then depend on the host's speed too
    a = _report(tmp_path / "a", host_full=1)
    same = _report(tmp_path / "s", host_full=1)
    assert compare(a, same).notes == []
    b = _report(tmp_path / "b", extra_cycle_at=np.arange(0, 1000, 50), host_full=40)
    c = compare(a, b)
    assert c.regressions and c.notes == ["the host ring was full for 1 cycle(s) in the old run and 40 in the "
                                         "new one: the host held the device back differently, so the exact "
                                         "stages also depend on the host's speed in these runs"]
    r = CliRunner().invoke(report, ["compare", str(a), str(b)])
    assert r.exit_code == EXIT_REGRESSION and "held the device back" in r.output
    assert "held the device back" in write_comparison(c, tmp_path / "out")["html"].read_text()


def test_measured_stages_are_judged_against_their_spread(tmp_path):
    a = _report(tmp_path / "a", host_p50s=(10_000, 11_000, 12_000))
    slower = _report(tmp_path / "b", host_p50s=(20_000, 21_000, 22_000))
    row = {r["name"]: r for r in compare(a, slower).rows}["host [busy]: cursor visible -> engine result"]
    assert row["verdict"] == "p50 slower, p99 slower (outside the spread)"
    assert row["spread"]["p50"] == {"old": [10_000, 12_000], "new": [20_000, 22_000]}
    noisy = _report(tmp_path / "c", host_p50s=(11_500, 13_000, 30_000))
    assert {r["name"]: r for r in compare(a, noisy).rows}[row["name"]]["verdict"] == "within spread"
    # a measured slowdown never fails the command (the machine is shared)
    assert CliRunner().invoke(report, ["compare", str(a), str(slower)]).exit_code == 0


def test_different_stimuli_are_not_comparable(tmp_path):
    a = _report(tmp_path / "a")
    b = _report(tmp_path / "b", config={**CONFIG, "seed": 3})
    r = CliRunner().invoke(report, ["compare", str(a), str(b)])
    assert r.exit_code == EXIT_NOT_COMPARABLE, r.output
    assert "seed" in r.output
    assert CliRunner().invoke(report, ["compare", str(a), str(b), "--allow-config-change"]).exit_code == 0


def test_a_version_1_report_compares_with_a_new_one(tmp_path):
    old = tmp_path / "old"
    old.mkdir()
    v1 = {"meta": {}, "clock_mhz": 250.0, "throughput": {}, "seed_latency_table_ns": [],
          "stages": [summarize(Stage("ring accept -> first RQ beat of its data TLP", np.full(10, 4)), 250)]}
    (old / "report.json").write_text(json.dumps(v1))
    new = _report(tmp_path / "new", config={})
    c = compare(old, new)
    assert not c.regressions and c.only_new == ["ring accept -> cursor line written to host memory",
                                                 "host [busy]: cursor visible -> engine result"]
    paths = write_comparison(c, tmp_path / "out")
    assert "only in the new report" in paths["markdown"].read_text()


def test_unreadable_reports_are_a_usage_error(tmp_path):
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "report.json").write_text("{}")
    r = CliRunner().invoke(report, ["compare", str(tmp_path / "x"), str(tmp_path / "x")])
    assert r.exit_code == 2 and "not a ringgate latency report" in r.output


def test_schema_command_prints_the_json_schema():
    r = CliRunner().invoke(report, ["schema"])
    assert r.exit_code == 0 and json.loads(r.output)["title"] == "ringgate latency report"
    r = CliRunner().invoke(report, ["schema", "--markdown"])
    assert "| `budget` |" in r.output
