"""The wheel: one top-level package, the vendored lz4 inside, and an installed copy that works
outside a checkout (a simulation and a waveform build from an empty directory)."""
from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import tomllib
import venv
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def test_every_package_folder_is_listed_in_pyproject():
    cfg = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(cfg["packages"])
    found = set()
    for package, folder in cfg["package-dir"].items():
        for init in (REPO / folder).rglob("__init__.py"):
            rel = init.parent.relative_to(REPO / folder)
            if "vendor" not in rel.parts:
                found.add(".".join([package, *rel.parts]))
    assert found == listed, f"missing from pyproject: {found - listed}; listed but absent: {listed - found}"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q",
                    "-w", str(out), str(REPO)], check=True, capture_output=True, text=True)
    (whl,) = out.glob("ringgate-*.whl")
    return whl


def test_wheel_has_one_import_root_and_lz4(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    roots = {n.split("/")[0] for n in names if not n.split("/")[0].endswith((".dist-info", ".data"))}
    assert roots == {"ringgate"}
    assert "ringgate/sim/vendor/lz4/lz4.c" in names and "ringgate/sim/vendor/lz4/lz4.h" in names
    assert "ringgate/hw/pcie_dma.py" in names and "ringgate/hw/ringbuf.py" in names
    entry_points = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith("entry_points.txt"))).decode()
    assert "[ringgate.devices]" in entry_points and "sim = ringgate.sim.cosim.device:SimDevice.open" in entry_points


@pytest.mark.slow
def test_installed_wheel_simulates_and_builds_waves_outside_a_checkout(wheel, tmp_path):
    """A fresh venv gets the wheel (not editable); its dependencies come from this environment's
    site-packages through a .pth line, which adds the folder to sys.path without running its
    .pth files, so this checkout's editable finder stays out of it."""
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=False)
    py = env_dir / "bin" / "python"
    site = subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          check=True, capture_output=True, text=True).stdout.strip()
    (Path(site) / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(py), "install", "--no-deps", "-q", str(wheel)],
                   check=True, capture_output=True, text=True)
    empty = tmp_path / "elsewhere"
    empty.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RINGGATE_", "PYTHONPATH", "VIRTUAL_ENV"))}
    env["XDG_CACHE_HOME"] = str(tmp_path / "cache")
    ringgate = env_dir / "bin" / "ringgate"

    where = subprocess.run([str(py), "-c", "import ringgate.sim.verilator as v, ringgate; "
                            "print(ringgate.__file__); print(v.cache_dir())"],
                           cwd=empty, env=env, check=True, capture_output=True, text=True).stdout.split()
    assert where[0].startswith(site), where                   # the installed copy, not this checkout
    assert where[1] == str(tmp_path / "cache" / "ringgate" / "sim")

    r = subprocess.run([str(ringgate), "simulate", "--depth", "16", "--laps", "3"], cwd=empty, env=env,
                       capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "idle latency" in r.stdout
    r = subprocess.run([str(ringgate), "bench", "ring16", "-t", "idle_latency", "--waves"], cwd=empty, env=env,
                       capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stdout + r.stderr
    dumps = list((tmp_path / "cache" / "ringgate" / "sim").glob("*/runs/*/dump.fst"))
    assert dumps and dumps[0].stat().st_size > 0
    assert not list(empty.iterdir())                          # nothing written where it was run
