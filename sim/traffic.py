"""Order-flow traffic for the FPGA path: ring entries plus the cycle each one reaches the ring.

The command mix is exchange-core's benchmark mix (about 9% GTC, 3% IOC, 6% cancel, 82% move)
over a configurable number of users and symbols. The commands come from the exchange's own
benchmark workload (:func:`ringgate.sw.exchange.workload.generate`), which runs them through a generator
engine as it goes, so every cancel and move names an order that is resting at that moment and
the exchange core accepts them (``Command.from_ring`` of the entries replays them exactly).

Timing: an offered load in entries per cycle, or a line rate (10/25/100 GbE minimum-size
frames, one order per frame by default) at a clock, optionally in bursts: ``burst`` entries
back to back at ``burst_load`` entries per cycle, burst starts spaced so that the mean stays the
offered load, either evenly or as a Poisson process. The ring takes at most one entry per
cycle, so arrival cycles are strictly increasing.

Everything is deterministic for a given seed.

    t = make_traffic(100_000, users=1000, symbols=1, load=0.05, burst=32, seed=7)
    t.entries        # ENTRY_DTYPE, seq = 0 (the ring stamps it), ts = low 32 bits of t.cycles
    t.cycles         # uint64 ingress cycle of each entry
    t.setup          # exchange admin commands (assets, symbols, users, deposits) to apply first
    t.warmup         # the first `warmup` entries build the books (resting GTC orders)
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ringgate.contracts.entry import ENTRY_DTYPE, Command, OrderType
from ringgate.contracts.pcie import USER_CLOCK_HZ

__all__ = ["Traffic", "make_traffic", "commands_to_entries", "schedule", "line_rate_load", "mix",
           "LINE_RATES", "ETHERNET_OVERHEAD"]

LINE_RATES = {"10G": 10e9, "25G": 25e9, "40G": 40e9, "100G": 100e9}
ETHERNET_OVERHEAD = 20          # preamble + SFD (8) + inter-frame gap (12) bytes per frame
MIN_FRAME = 64                  # bytes, FCS included

_FIELDS = ("cmd", "side", "order_type", "symbol", "uid", "order_id", "price", "reserve_price", "size",
           "user_cookie")


def line_rate_load(rate: str | float, clock_hz: float = USER_CLOCK_HZ, *, frame_bytes: int = MIN_FRAME,
                   orders_per_frame: int = 1) -> float:
    """Entries per cycle of a line saturated with ``frame_bytes`` frames (10G, 64 B: 14.88 M/s)."""
    bps = LINE_RATES[rate] if isinstance(rate, str) else float(rate)
    if frame_bytes < MIN_FRAME:
        raise ValueError(f"Ethernet frames are at least {MIN_FRAME} bytes, not {frame_bytes}")
    frames_per_s = bps / ((frame_bytes + ETHERNET_OVERHEAD) * 8)
    return frames_per_s * orders_per_frame / clock_hz


def schedule(n: int, load: float, *, burst: int = 1, burst_load: float = 1.0, poisson: bool = False,
             start: int = 0, seed: int = 0) -> np.ndarray:
    """Ingress cycles (uint64, strictly increasing) of ``n`` entries at a mean of ``load`` per cycle."""
    if not 0 < load <= 1:
        raise ValueError(f"offered load must be in (0, 1] entries per cycle, not {load}")
    if burst < 1:
        raise ValueError(f"burst must be >= 1 entries, not {burst}")
    if not load <= burst_load <= 1:
        raise ValueError(f"burst load must be in [load, 1] entries per cycle, not {burst_load}")
    rng = np.random.default_rng(seed)
    nb = -(-n // burst)
    period = burst / load                       # mean cycles between burst starts
    if poisson:
        gaps = rng.exponential(period, nb)
        starts = np.cumsum(gaps) - gaps[0]
    else:
        starts = np.arange(nb) * period
    within = np.arange(burst) / burst_load
    t = (starts[:, None] + within[None, :]).ravel()[:n]
    c = np.floor(t).astype(np.int64) + start
    # One entry per cycle at most: c'[i] = max(c[i], c'[i-1] + 1).
    idx = np.arange(n, dtype=np.int64)
    c = np.maximum.accumulate(c - idx) + idx
    return c.astype(np.uint64)


def commands_to_entries(commands) -> np.ndarray:
    """Ring entries (``ENTRY_DTYPE``, seq 0) of exchange ``OrderCommand``s, field for field."""
    out = np.zeros(len(commands), dtype=ENTRY_DTYPE)
    for f in _FIELDS:
        out[f] = [getattr(c, f) for c in commands]
    return out


@dataclass
class Traffic:
    entries: np.ndarray
    cycles: np.ndarray
    setup: list
    warmup: int
    params: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.entries)

    @property
    def measured(self) -> np.ndarray:
        """The entries after the book-building warm-up (the benchmark mix)."""
        return self.entries[self.warmup:]


def make_traffic(n: int, *, users: int = 1000, symbols: int = 1, resting: int = 1000,
                 load: float | None = None, line_rate: str | float | None = None,
                 clock_hz: float = USER_CLOCK_HZ, frame_bytes: int = MIN_FRAME, orders_per_frame: int = 1,
                 burst: int = 1, burst_load: float = 1.0, poisson: bool = False,
                 warmup: bool = True, seed: int = 1) -> Traffic:
    """``n`` commands of exchange-core's mix (plus ``resting`` book-building orders per symbol
    first when ``warmup``), timed at ``load`` entries per cycle or ``line_rate`` (default 10G)."""
    from ringgate.sw.exchange.workload import generate
    from ringgate.sw.exchange.commands import OrderCommand

    if n < 0 or users < 1 or symbols < 1:
        raise ValueError("need n >= 0, users >= 1 and symbols >= 1")
    if load is not None and line_rate is not None:
        raise ValueError("give an offered load or a line rate, not both")
    if load is None:
        load = line_rate_load(line_rate or "10G", clock_hz, frame_bytes=frame_bytes,
                              orders_per_frame=orders_per_frame)
        load = min(load, 1.0)
    setup_and_fill, cmds, _ = generate(n, symbols=symbols, users=users, resting=resting, seed=seed)
    setup = [c for c in setup_and_fill if not isinstance(c, OrderCommand)]
    fill = [c for c in setup_and_fill if isinstance(c, OrderCommand)] if warmup else []
    if not warmup:
        # The books must still exist for the mix to make sense: the fill goes to the setup.
        setup = list(setup_and_fill)
    entries = commands_to_entries(fill + cmds)
    cycles = schedule(len(entries), load, burst=burst, burst_load=max(burst_load, load),
                      poisson=poisson, seed=seed)
    entries["ts"] = cycles & np.uint64(0xFFFF_FFFF)
    params = dict(n=n, users=users, symbols=symbols, resting=resting, load=load, clock_hz=clock_hz,
                  burst=burst, burst_load=burst_load, poisson=poisson, seed=seed)
    return Traffic(entries, cycles, setup, len(fill), params)


def mix(entries: np.ndarray) -> dict[str, float]:
    """Fractions of GTC, IOC, other places, cancel, move and reduce commands."""
    n = max(1, len(entries))
    cmd, ot = entries["cmd"], entries["order_type"]
    place = cmd == Command.PLACE
    return {
        "gtc": float(np.count_nonzero(place & (ot == OrderType.GTC))) / n,
        "ioc": float(np.count_nonzero(place & (ot == OrderType.IOC))) / n,
        "other_place": float(np.count_nonzero(place & (ot != OrderType.GTC) & (ot != OrderType.IOC))) / n,
        "cancel": float(np.count_nonzero(cmd == Command.CANCEL)) / n,
        "move": float(np.count_nonzero(cmd == Command.MOVE)) / n,
        "reduce": float(np.count_nonzero(cmd == Command.REDUCE)) / n,
    }
