"""``ringgate sweep --ray``: the same points as Ray tasks, on a one-machine Ray cluster.

Ray is the optional extra ``ringgate[cluster]`` (about 240 MB); where it is not installed this
module is skipped with that reason in pytest's summary (``-ra``). docs/throughput.md says which
runs cover it.
"""
import json

import pytest
from click.testing import CliRunner

ray = pytest.importorskip("ray", reason="the Ray path needs the optional extra: pip install 'ringgate[cluster]'")

from ringgate.app.cli import main  # noqa: E402
from ringgate.app.sweep import grid, run_local, run_ray  # noqa: E402


def test_ray_path_gives_the_local_results(tmp_path):
    points = grid({"mps": [256], "width": [256, 512], "batch": [8], "cursor_interval": [4], "load": [0.3],
                   "doorbell_delay": [200]}, cycles=20_000, host_ready=0.8, seed=5)
    remote = run_ray(points, "local")
    local = run_local(points, jobs=2)
    assert not ray.is_initialized()         # the sweep shut its cluster down
    for a, b in zip(remote, local):
        assert a["knobs"] == b["knobs"] and a["latency_hist"] == b["latency_hist"]
        assert {k: v for k, v in a["counters"].items() if "cycles_per" not in k and not k.endswith("_s")} == \
            {k: v for k, v in b["counters"].items() if "cycles_per" not in k and not k.endswith("_s")}


def test_sweep_command_on_ray(tmp_path):
    r = CliRunner().invoke(main, ["sweep", "--mps", "256", "--width", "256", "--load", "0.2,0.5",
                                  "--doorbell-delay", "100", "--cycles", "10k", "--ray", "local", "--out", str(tmp_path)])
    assert r.exit_code == 0, r.output
    data = json.loads((tmp_path / "sweep.json").read_text())
    assert data["meta"]["where"] == "Ray cluster local" and len(data["points"]) == 2
