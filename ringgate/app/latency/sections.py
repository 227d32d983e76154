"""The latency sections of a main-job report (``ringgate run``): the budget from the wire to the
WebSocket frame, the host stages measured in real time, and one order's timing diagram.

The main job passes what it has (its stages, the co-simulation's summary); this module adds the
real-time host measurement (run now, after the simulator has stopped and freed the cores, or
loaded from a ``ringgate latency --out DIR``) and builds the sections ``write_report`` embeds.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import click
import numpy as np

__all__ = ["HostOptions", "host_options", "run_sections", "config_of", "STAGE_FIRST", "STAGE_CURSOR", "STAGE_LANDED"]

# the main job's exact and modelled stages the budget is built from (ringgate.app.mainjob)
STAGE_FIRST = "ring accept -> first RQ beat of its data TLP"
STAGE_CURSOR = "ring accept -> last RQ beat of the cursor TLP"
STAGE_LANDED = "ring accept -> cursor line written to host memory"


@dataclass
class HostOptions:
    """How the main job gets its host stages.

    Members
    -------
    enabled : bool
        Measure (or load) the host stages at all.
    from_dir : Path or None
        Load a ``ringgate latency --out DIR`` measurement instead of running one.
    orders, rate, repeat, polls, seed :
        The replay when one is run (:class:`ringgate.app.latency.replay.ReplayConfig`).
    """
    enabled: bool = True
    from_dir: Path | None = None
    orders: int = 3000
    rate: float = 5000.0
    repeat: int = 3
    polls: tuple = ("busy",)
    seed: int = 1


def host_options(f):
    """The main job's click options for the host stages (a decorator)."""
    opts = [
        click.option("--host/--no-host", "host_enabled", default=True, show_default=True,
                     help="Measure the host stages in real time after the co-simulation (ringgate latency)."),
        click.option("--host-from", type=click.Path(file_okay=False, exists=True, path_type=Path),
                     help="Use this `ringgate latency --out DIR` measurement instead of running one."),
        click.option("--host-orders", default=3000, show_default=True, help="Entries per host replay run."),
        click.option("--host-rate", default=5000.0, show_default=True, help="Offered entries/s of the host replay."),
        click.option("--host-repeat", default=3, show_default=True, help="Host replay runs (the run-to-run spread)."),
        click.option("--host-poll", "host_polls", multiple=True, default=("busy",), show_default=True,
                     help="Consumer poll modes of the host replay (the first one goes into the budget)."),
        click.option("--trace-entry", default=None, type=int,
                     help="Entry whose path is drawn cycle by cycle (default: the first after the book-building ones)."),
    ]
    for o in reversed(opts):
        f = o(f)
    return f


def run_sections(stages: list, summary: dict, *, clock_mhz: float, host: HostOptions, log=print) -> dict:
    """``budget``, ``host`` and ``timing`` for :func:`ringgate.app.report.write_report`."""
    from ringgate.app.latency.budget import build_budget
    from ringgate.app.latency.replay import HostMeasurement, ReplayConfig, ReplayError, measure

    by_name = {s.name: s for s in stages}
    try:
        c_first, c_cursor = by_name[STAGE_FIRST].samples, by_name[STAGE_CURSOR].samples
    except KeyError as e:
        raise ValueError(f"the run has no stage {e.args[0]!r}: cannot build its budget") from None
    landed = by_name.get(STAGE_LANDED)
    link = None if landed is None else landed.samples - c_cursor * 1000.0 / clock_mhz
    m = None
    if host.enabled:
        try:
            if host.from_dir is not None:
                m = HostMeasurement.load(host.from_dir)
            else:
                cfg = ReplayConfig(orders=host.orders, rate=host.rate, seed=host.seed,
                                   resting=min(500, max(50, host.orders // 10)))
                m = measure(cfg, tuple(host.polls), host.repeat, log=log)
        except (ReplayError, ValueError) as e:
            raise click.ClickException(f"host stages: {e}") from None
    primary = m.modes[0]["poll"] if m else None
    budget = build_budget(c_first, c_cursor, clock_mhz=clock_mhz, host=m.stamps[primary] if m else None,
                          host_label=_label(m) if m else "", modelled_link_ns=link)
    trace = summary.get("trace")
    if trace is not None and not trace.get("complete", True):
        log("the traced entry's cursor TLP did not end inside the trace window: the diagram is cut short")
    return {"budget": budget, "host": m.section() if m else None, "timing": trace}


def _label(m) -> str:
    c, mode = m.config, m.modes[0]
    return (f"ringgate latency: {mode['measured_entries']} entries in {mode['repeats']} runs at "
            f"{c.rate:,.0f} entries/s, {mode['poll']} polling, host CPU {c.host_core}"
            f"{f', nice {c.nice}' if c.nice else ''}; load average {m.machine.get('loadavg', ['?'])[0]}, "
            f"other processes used {mode['other_processes_busy']:.0%} of the CPUs")


def config_of(**kw) -> dict:
    """The report's ``config``: the stimulus and design parameters, machine-readable."""
    return {k: (v.item() if isinstance(v, np.generic) else v) for k, v in kw.items()}
