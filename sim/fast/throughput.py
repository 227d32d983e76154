"""The throughput level at full speed: ``ThroughputHarness`` in a Verilated model with its own main.

Python sets the knobs, releases reset, runs the offering window (with progress callbacks),
runs until the harness reports ``settled`` and reads the counters and the latency histogram;
:func:`check` applies the same checks as the cocotb bench.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Callable

from ringgate.contracts.pcie import MAX_PAYLOADS

from ..throughput import COUNTERS, HIST_BINS, WIDTHS

__all__ = ["Knobs", "exe_for", "cocotb_build_for", "run", "run_cocotb", "check", "drain_budget", "ThroughputCheckFailed", "summary"]


class ThroughputCheckFailed(AssertionError):
    pass


def _p(x: float) -> int:
    return min(65536, max(0, round(x * 65536)))


@dataclass(frozen=True)
class Knobs:
    """One throughput-level run: offering window, load, host, DMA registers, seed, datapath."""
    cycles: int = 1_000_000
    p_offer: float = 0.5            # entries offered per cycle
    p_ready: float = 0.9            # probability the host takes an RQ beat per cycle
    mps: int = 1                    # cfg_max_payload code (0 = 128 B .. 3 = 1024 B)
    batch: int = 16
    cursor_interval: int = 4
    doorbell_delay: int = 100
    seed: int = 1
    width: int = 256

    def __post_init__(self):
        if self.cycles < 0:
            raise ValueError(f"cycles must be >= 0, not {self.cycles}")
        for name in ("p_offer", "p_ready"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"{name} must be in [0, 1], not {getattr(self, name)}")
        if self.mps not in range(len(MAX_PAYLOADS)):
            raise ValueError(f"mps must be a code 0..{len(MAX_PAYLOADS) - 1}, not {self.mps}")
        if self.width not in WIDTHS:
            raise ValueError(f"width must be one of {WIDTHS}, not {self.width}")
        if not 0 <= self.doorbell_delay < 1 << 16:
            raise ValueError(f"doorbell_delay must be in 0..65535, not {self.doorbell_delay}")
        for name in ("batch", "cursor_interval", "seed"):
            if not 0 <= getattr(self, name) < 1 << 32:
                raise ValueError(f"{name} must fit 32 bits, not {getattr(self, name)}")

    def ports(self) -> dict[str, int]:
        """The harness inputs these knobs set (``go`` and reset apart)."""
        return {"seed": self.seed, "offer_cycles": self.cycles, "p_offer": _p(self.p_offer),
                "p_ready": _p(self.p_ready), "mps": self.mps, "batch_limit": self.batch,
                "cursor_interval": self.cursor_interval, "doorbell_delay": self.doorbell_delay}

    def env(self) -> dict[str, str]:
        """The cocotb bench's environment (``TP_*``, read back by :meth:`from_env`)."""
        return {f"TP_{name.upper()}": str(value) for name, value in asdict(self).items()}

    @classmethod
    def from_env(cls, environ) -> "Knobs":
        kw = {}
        for f in fields(cls):
            value = environ.get(f"TP_{f.name.upper()}")
            if value is not None:
                kw[f.name] = float(value) if f.type == "float" else int(value)
        return cls(**kw)


def drain_budget(k: Knobs) -> int:
    """Cycles allowed after the offering window for everything accepted to reach the host: the
    BRAM and host rings empty in a few doorbell rounds; a run that needs more has lost data."""
    return 50_000 + 16 * k.doorbell_delay


def check(r: dict) -> None:
    """Every accepted entry reached the host in order at its address, the last cursor covers
    them, the histogram counts each once, and neither the sink nor the DMA writer saw an error."""
    accepted = r["offered"] - r["dropped"]
    failed = [f"{name} = {r[name]}" for name in COUNTERS if name.endswith("errors") and r[name]]
    if r["entries"] != accepted:
        failed.append(f"entries {r['entries']} != accepted {accepted}")
    if r["last_cursor"] != accepted:
        failed.append(f"last_cursor {r['last_cursor']} != accepted {accepted}")
    if sum(r["latency_hist"]) != r["entries"]:
        failed.append(f"histogram holds {sum(r['latency_hist'])} entries, not {r['entries']}")
    if failed:
        raise ThroughputCheckFailed("throughput run failed its checks: " + "; ".join(failed))


_BUILDS: dict = {}


def _once(kind: str, width: int, make, artefact):
    """``make(width)``, converted and looked up once per process, cache directory and waves setting
    (elaborating the harness takes longer than a short run; a sweep's worker runs many)."""
    from .. import verilator

    key = (kind, width, str(verilator.cache_dir()), verilator.waves_requested())
    b = _BUILDS.get(key)
    if b is None or not artefact(b).exists():
        b = _BUILDS[key] = make(width)
    return b


def exe_for(width: int):
    """The fast build of ``width`` (:func:`ringgate.sim.builds.throughput_fast`), once per process."""
    from .. import builds

    return _once("fast", width, builds.throughput_fast, lambda exe: exe.binary)


def cocotb_build_for(width: int):
    """The cocotb build of ``width`` (:func:`ringgate.sim.builds.throughput`), once per process."""
    from .. import builds

    return _once("cocotb", width, builds.throughput, lambda b: b.directory)


def run(k: Knobs, *, exe=None, progress: Callable[[int], None] | None = None,
        every: int = 1 << 20) -> dict:
    """Run ``k`` on the fast model (built, cached, when ``exe`` is None); the counters, the
    histogram and the wall time of the offering window. Does not :func:`check`."""
    from .runner import FastSim

    exe = exe or exe_for(k.width)
    with FastSim(exe.binary) as sim:
        sim.set(rst=1, go=0, hist_addr=0, **k.ports())
        sim.run(4)
        sim.set(rst=0, go=1)
        window = sim.run(k.cycles + 1, progress=progress, every=every)
        drain = sim.run(drain_budget(k), until="settled")
        counters = sim.get(*COUNTERS)
        hist = sim.table("hist_addr", "hist_data", HIST_BINS)
    wall, cpu = window.wall_ns / 1e9, window.cpu_ns / 1e9
    return {**counters, "run_cycles": k.cycles, "drain_cycles": drain.edges, "wall_s": wall, "cpu_s": cpu,
            "sim_cycles_per_s": k.cycles / wall if wall else 0.0,
            "sim_cycles_per_cpu_s": k.cycles / cpu if cpu else 0.0, "latency_hist": hist}


def run_cocotb(k: Knobs, directory: Path | str | None = None) -> dict:
    """The same run driven by cocotb (``sim/tb_throughput.py``): the slow cross-check. Raises
    ``verilator.CocotbFailure`` when the bench's checks fail."""
    import json
    import tempfile

    from .. import verilator

    directory = Path(directory or tempfile.mkdtemp(prefix="ringgate-tput-"))
    report = directory / "tp.json"
    verilator.run(cocotb_build_for(k.width), "ringgate.sim.tb_throughput",
                  extra_env={**k.env(), "TP_REPORT": str(report)}, test_dir=directory / "run")
    return json.loads(report.read_text())


def summary(r: dict) -> dict:
    """Figures of a run for tables: throughput and latency percentiles (exact cycles)."""
    import numpy as np

    hist = np.asarray(r["latency_hist"])
    total = int(hist.sum())
    out = {"entries_per_cycle": r["window_entries"] / r["run_cycles"] if r["run_cycles"] else 0.0,
           "drop_rate": r["dropped"] / r["offered"] if r["offered"] else 0.0,
           "entries_per_tlp": r["entries"] / r["data_tlps"] if r["data_tlps"] else 0.0,
           "cursors_per_tlp": r["cursor_lines"] / r["data_tlps"] if r["data_tlps"] else 0.0}
    cdf = np.cumsum(hist)
    for name, q in (("p50", 0.5), ("p99", 0.99), ("p999", 0.999)):
        # inverted CDF: the smallest bin holding at least q of the samples
        out[name] = int(np.searchsorted(cdf, q * total)) if total else None
    out["max"] = int(np.flatnonzero(hist)[-1]) if total else None
    out["saturated"] = bool(total and hist[-1])
    return out
