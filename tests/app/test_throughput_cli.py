"""``ringgate throughput`` (fast level, progress bar, report) and ``ringgate sweep`` (grid, table, heat maps)."""
import json

import pytest
from click.testing import CliRunner

from ringgate.app.cli import Count, main
from ringgate.app.sweep import grid, markdown, run_local, write_outputs


def test_throughput_run_writes_a_report(tmp_path):
    r = CliRunner().invoke(main, ["throughput", "--cycles", "30k", "--load", "0.3", "--out", str(tmp_path)])
    assert r.exit_code == 0, r.output
    data = json.loads((tmp_path / "report.json").read_text())
    stage = data["stages"][0]
    assert stage["kind"] == "exact" and stage["min_cycles"] >= 1 and stage["count"] > 5000
    assert data["throughput"]["checks failed (sequence / address / cursor / TLP / DMA)"] == "0 / 0 / 0 / 0 / 0"
    assert "C++ main" in data["throughput"]["simulation speed"]
    assert data["meta"]["cycles"] == 30_000
    raw = json.loads((tmp_path / "raw.json").read_text())
    assert raw["run_cycles"] == raw["cycles"] == 30_000
    assert "simulating" in r.output and "30,000/30,000" in r.output       # the progress bar, finished
    assert (tmp_path / "report.html").exists() and (tmp_path / "stage0.png").exists()


def test_throughput_fails_with_a_report_when_the_checks_fail(tmp_path):
    """A refused DMA configuration: the report is still written, the command exits 1 naming the check."""
    r = CliRunner().invoke(main, ["throughput", "--cycles", "5000", "--batch", "0", "--out", str(tmp_path)])
    assert r.exit_code == 1
    assert "dma_errors" in r.output
    assert (tmp_path / "raw.json").exists()


@pytest.mark.parametrize("args,hint", [(["--load", "1.5"], "--load"), (["--cycles", "0"], "--cycles"),
                                       (["--cycles", "lots"], "--cycles"), (["--doorbell-delay", "70000"], "doorbell")])
def test_throughput_refuses_bad_options(args, hint):
    r = CliRunner().invoke(main, ["throughput", *args])
    assert r.exit_code == 2 and hint in r.output


def test_count_suffixes():
    c = Count()
    assert [c.convert(v, None, None) for v in ("250M", "2m", "30k", "1_000", "1.5G", 7)] == \
        [250_000_000, 2_000_000, 30_000, 1000, 1_500_000_000, 7]


def _small_grid():
    return grid({"mps": [128, 512], "width": [256, 512], "batch": [16], "cursor_interval": [4], "load": [0.2, 0.6],
                 "doorbell_delay": [100]}, cycles=20_000, host_ready=0.9, seed=3)


def test_sweep_runs_points_in_parallel_and_writes_table_and_heat_maps(tmp_path):
    points = _small_grid()
    assert len(points) == 8
    done = []
    rows = run_local(points, jobs=2, on_done=done.append)
    assert len(done) == 8 and [r["knobs"] for r in rows] == points       # grid order kept
    assert not any(r["failed"] for r in rows)
    # Same point, same result: the sweep's runs are the fast level's runs.
    from ringgate.sim.fast.throughput import Knobs, run, summary
    again = summary(run(Knobs(**points[5])))
    assert again["entries_per_cycle"] == rows[5]["entries_per_cycle"] and again["p99"] == rows[5]["p99"]
    # More load carries more entries; a larger MPS gives more entries per TLP under load.
    by = {(r["knobs"]["width"], r["mps_bytes"], r["knobs"]["p_offer"]): r for r in rows}
    assert by[(512, 512, 0.6)]["entries_per_cycle"] > by[(512, 512, 0.2)]["entries_per_cycle"]
    assert by[(256, 512, 0.6)]["entries_per_tlp"] > by[(256, 128, 0.6)]["entries_per_tlp"]
    paths = write_outputs(rows, tmp_path, "load", "mps", {"cycles": 20_000, "seed": 3})
    data = json.loads(paths["json"].read_text())
    assert len(data["points"]) == 8
    table = paths["md"].read_text()
    assert table.count("\n| ") == 8 + 1 and "p99" in table
    for name in ("heatmap_throughput", "heatmap_p99"):
        assert paths[name].stat().st_size > 10_000


def test_markdown_marks_saturated_latency_and_failures():
    row = {"knobs": {"width": 256, "batch": 16, "cursor_interval": 4, "p_offer": 1.0, "p_ready": 1.0,
                     "doorbell_delay": 100}, "mps_bytes": 256, "entries_per_cycle": 0.42, "drop_rate": 0.5,
           "entries_per_tlp": 4.0, "p50": 255, "p99": 255, "p999": 255, "max": 255,
           "counters": {"sim_cycles_per_s": 1e6}, "failed": "seq_errors = 1"}
    line = markdown([row]).splitlines()[-1]
    assert "255+" in line and "FAILED" in line


def test_sweep_command_refuses_bad_values(tmp_path):
    r = CliRunner().invoke(main, ["sweep", "--mps", "300", "--out", str(tmp_path)])
    assert r.exit_code == 2 and "MPS" in r.output
    r = CliRunner().invoke(main, ["sweep", "--load", "0.5,abc", "--out", str(tmp_path)])
    assert r.exit_code == 2 and "--load" in r.output
    r = CliRunner().invoke(main, ["sweep", "-x", "mps", "-y", "mps", "--out", str(tmp_path)])
    assert r.exit_code == 2


def test_sweep_command_end_to_end(tmp_path):
    r = CliRunner().invoke(main, ["sweep", "--mps", "256", "--width", "256", "--load", "0.3,0.7",
                                  "--doorbell-delay", "50,500", "--cycles", "20k", "-j", "2", "--out", str(tmp_path)])
    assert r.exit_code == 0, r.output
    assert "4 points" in r.output
    data = json.loads((tmp_path / "sweep.json").read_text())
    assert data["meta"]["points"] == 4 and data["meta"]["where"] == "2 local process(es)"
    assert (tmp_path / "heatmap_p99.png").exists()


def test_throughput_cocotb_cross_check_gives_the_same_counters(tmp_path):
    args = ["throughput", "--cycles", "20k", "--load", "0.4", "--host-ready", "0.7", "--seed", "9"]
    fast = CliRunner().invoke(main, [*args, "--out", str(tmp_path / "fast")])
    slow = CliRunner().invoke(main, [*args, "--cocotb", "--out", str(tmp_path / "slow")])
    assert fast.exit_code == slow.exit_code == 0, (fast.output, slow.output)
    a, b = (json.loads((tmp_path / d / "report.json").read_text()) for d in ("fast", "slow"))
    assert a["stages"] == b["stages"]
    assert "cocotb" in b["throughput"]["simulation speed"]
    for key in ("entries delivered", "entries per cycle", "delivered / accepted / last cursor"):
        assert a["throughput"][key] == b["throughput"][key]
