"""The ``ringgate`` command line: the main job prints measured figures; bad options are refused."""
import json

from click.testing import CliRunner

from ringgate.app.cli import main


def test_simulate_measures_the_ring(tmp_path):
    out = tmp_path / "fig.json"
    r = CliRunner().invoke(main, ["simulate", "--depth", "16", "--laps", "3", "--json", str(out)])
    assert r.exit_code == 0, r.output
    fig = json.loads(out.read_text())
    assert fig["idle_latency"]["cycles"] == 1
    assert fig["throughput"] == {**fig["throughput"], "entries": 48, "cycles": 49}
    assert fig["scoreboard"]["checked"] == 48 and fig["scoreboard"]["max_fill"] == 16
    assert "idle latency" in r.output


def test_simulate_refuses_bad_depth_naming_the_option():
    r = CliRunner().invoke(main, ["simulate", "--depth", "1000"])
    assert r.exit_code == 2
    assert "--depth" in r.output and "power of two" in r.output


def test_simulate_refuses_bad_probability():
    r = CliRunner().invoke(main, ["simulate", "--depth", "16", "--p-ready", "0"])
    assert r.exit_code == 2 and "--p-ready" in r.output


def test_entry_table_lists_every_field():
    from ringgate.contracts.entry import ENTRY

    r = CliRunner().invoke(main, ["entry"])
    assert r.exit_code == 0
    for f in ENTRY.fields:
        assert f"`{f.name}`" in r.output


def test_regmap_prints_every_register():
    from ringgate.contracts.regmap import REGMAP

    r = CliRunner().invoke(main, ["regmap"])
    assert r.exit_code == 0
    for reg in REGMAP.regs:
        assert f"`{reg.name}`" in r.output


def test_named_bench_runs_and_records_waves(tmp_path):
    r = CliRunner().invoke(main, ["bench", "ring16", "-t", "idle_latency", "--waves"])
    assert r.exit_code == 0, r.output
    assert "ring16: passed" in r.output
    r = CliRunner().invoke(main, ["waves", "--viewer", "no-such-viewer"])
    assert r.exit_code == 0 and "dump.fst" in r.output and "not installed" in r.output


def test_named_bench_failure_and_bad_options(tmp_path):
    r = CliRunner().invoke(main, ["bench", "ring16", "-t", "scoreboard", "--env", "RING_DEPTH=32",
                                  "--env", "RING_P_READY=0.3", "--env", "RING_LAPS=2"])
    assert r.exit_code == 1 and "failed" in r.output
    r = CliRunner().invoke(main, ["bench", "ring16", "--env", "oops"])
    assert r.exit_code == 2 and "KEY=VALUE" in r.output
    r = CliRunner().invoke(main, ["bench", "nonesuch"])
    assert r.exit_code == 2
    r = CliRunner().invoke(main, ["waves", str(tmp_path)])
    assert r.exit_code == 2 and "--waves" in r.output


def test_a_command_that_cannot_load_stays_visible_with_its_error():
    import click

    from ringgate.app.cli import LazyGroup

    @click.group(cls=LazyGroup, lazy={"good": "ringgate.app.perf:perf", "broken": "ringgate.no_such_module:cmd"})
    def root():
        pass

    r = CliRunner().invoke(root, ["--help"])
    assert r.exit_code == 0 and "good" in r.output
    assert "broken" in r.output and "unavailable" in r.output and "ModuleNotFoundError" in r.output
    r = CliRunner().invoke(root, ["broken", "--anything"])
    assert r.exit_code == 1 and "cannot be loaded" in r.output and "ringgate.no_such_module" in r.output


def test_every_command_loads():
    r = CliRunner().invoke(main, ["--help"])
    assert r.exit_code == 0 and "unavailable" not in r.output
    for name in ("run", "cosim", "serve", "perf", "synth", "bench", "simulate", "throughput", "prove"):
        assert name in r.output
    r = CliRunner().invoke(main, ["perf", "--help"])
    assert r.exit_code == 0 and "unavailable" not in r.output
    for name in ("engine", "driver", "gateway", "pcie"):
        assert name in r.output
        assert CliRunner().invoke(main, ["perf", name, "--help"]).exit_code == 0


def test_synth_reports_a_block(tmp_path):
    out = tmp_path / "bar0.json"
    r = CliRunner().invoke(main, ["synth", "--block", "bar0", "--json", str(out)])
    assert r.exit_code == 0, r.output
    fig = json.loads(out.read_text())
    assert fig["block"] == "bar0" and fig["abc9"] and fig["LUT"] > 100 and fig["LUT levels"] <= 5
