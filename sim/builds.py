"""The named Verilator builds of the project and the cocotb benches that run on them.

One place says how each simulated design is built (cached by content hash in
:mod:`ringgate.sim.verilator`): the tests, the CLI (``ringgate bench``), the benchmarks and the
co-simulation ask for a build by what it is, so the same design is never built twice under
two names.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from ringgate.contracts.pcie import USER_CLOCK_NS

from . import verilator

__all__ = ["ring", "pcie_top", "throughput", "throughput_fast", "ingress", "wire_top", "FAST_ARGS", "FAST_MAKE",
           "Bench", "BENCHES", "PCIE_RING_DEPTH"]

PCIE_RING_DEPTH = 256           # the BRAM ring of the PCIe benches and the co-simulation


def ring(depth: int, *, bypass: bool = True, waves: bool | None = None) -> verilator.Build:
    """The BRAM ring alone (``hw/ringbuf.py``) with 64-byte entries."""
    from ringgate.contracts.entry import ENTRY
    from ringgate.hw.ringbuf import RingBuffer

    name = f"ringbuf{depth}" if bypass else f"ringbuf{depth}_nobypass"
    return verilator.build(RingBuffer(depth, ENTRY.layout(), bypass=bypass), name, waves=waves)


def pcie_top(width: int, depth: int = PCIE_RING_DEPTH, *, waves: bool | None = None) -> verilator.Build:
    """Ring + DMA writer + BAR0 + UltraScale+ adapter (``hw/pcie/top.py``) at ``width`` bits."""
    from ringgate.hw.pcie.top import PcieTop

    name = f"pcie_top_{width}" if depth == PCIE_RING_DEPTH else f"pcie_top_{width}_d{depth}"
    return verilator.build(PcieTop(width, depth), name, waves=waves)


def throughput(width: int = 256, *, waves: bool | None = None) -> verilator.Build:
    """The throughput-level harness (ring + DMA writer + RQ adapter + hardware source and checking
    sink) for cocotb, clocked inside the simulator: the cross-check of :func:`throughput_fast`."""
    from .throughput import ThroughputHarness

    return verilator.build(ThroughputHarness(width), f"tput{width}", clock_ns=USER_CLOCK_NS, waves=waves)


# How the fast level is built; docs/throughput.md measures each of these against the step before.
FAST_ARGS = ("-O3", "--x-assign", "fast", "--x-initial", "fast", "--noassert")
FAST_MAKE = {"OPT_FAST": "-O3", "OPT_SLOW": "-O1", "OPT_GLOBAL": "-O3"}


def throughput_fast(width: int = 256, *, args=FAST_ARGS, make_vars=FAST_MAKE,
                    registered_knobs: bool = True, registered_reset: bool = True) -> verilator.Executable:
    """The same harness as :func:`throughput`, Verilated with a generated C++ main (no cocotb, no
    ``--timing``): the fast throughput level (``ringgate.sim.fast``). The switches exist to
    measure what each step gains (``ringgate perf sim``)."""
    from amaranth.back import verilog as vlog

    from .fast.cxxmain import Clock, generate, ports_of, registered_reset_top
    from .throughput import ThroughputHarness

    name = f"tputx{width}"
    harness = ThroughputHarness(width, registered_knobs=registered_knobs)
    ports = ports_of(harness)
    if registered_reset:
        verilog = registered_reset_top(vlog.convert(harness, name=f"{name}_core", emit_src=False),
                                       f"{name}_core", name, ports, {"rst": "clk"})
    else:
        verilog = vlog.convert(harness, name=name, emit_src=False)
    main = generate(name, ports, [Clock("clk", USER_CLOCK_NS * 1000)])
    return verilator.build_exe(verilog, name, main, args=args, make_vars=make_vars)


@dataclass(frozen=True)
class Bench:
    """A cocotb bench: the build it runs on, its cocotb module and its default environment."""
    build: Callable[..., verilator.Build]
    module: str
    env: dict = field(default_factory=dict)
    doc: str = ""


BENCHES = {
    "ring16": Bench(lambda waves=None: ring(16, waves=waves), "ringgate.sim.tb_ringbuf",
                    {"RING_DEPTH": "16"}, "ring of 16 entries: scoreboard, latency, throughput"),
    "ring1024": Bench(lambda waves=None: ring(1024, waves=waves), "ringgate.sim.tb_ringbuf",
                      {"RING_DEPTH": "1024"}, "ring of 1024 entries"),
    "pcie256": Bench(lambda waves=None: pcie_top(256, waves=waves), "ringgate.sim.pcie.cocotb_pcie", {},
                     "PCIe top, 256-bit, with the cocotbext-pcie model"),
    "pcie512": Bench(lambda waves=None: pcie_top(512, waves=waves), "ringgate.sim.pcie.cocotb_pcie", {},
                     "PCIe top, 512-bit, with the cocotbext-pcie model"),
    "throughput": Bench(lambda waves=None: throughput(waves=waves), "ringgate.sim.tb_throughput",
                        {"TP_CYCLES": "100000"}, "ring + DMA writer at throughput level"),
    "wire256": Bench(lambda waves=None: wire_top(256, waves=waves), "ringgate.sim.ingress.tb_wire", {},
                     "frames on the MAC stream through ingress and PCIe top into cocotbext-pcie host memory"),
    "ingress": Bench(lambda waves=None: ingress(waves=waves), "ringgate.sim.ingress.tb",
                     {"ING_FRAMES": "200", "ING_SOURCE": "axis"},
                     "network ingress: malformed mix, 156.25:250 MHz, against the golden model"),
}


def ingress(depth: int = 256, *, max_messages: int = 4, waves: bool | None = None) -> verilator.Build:
    """The network ingress (``hw/ingress``): parser in the MAC clock, dual-clock ring, crossing."""
    from ringgate.hw.ingress import IngressRing

    core = IngressRing(depth, max_messages=max_messages)
    return verilator.build(verilator.with_domains(core, ("sync", "mac")), f"ingress_d{depth}_m{max_messages}",
                           waves=waves)


def wire_top(width: int = 256, depth: int = PCIE_RING_DEPTH, *, max_messages: int = 4,
             waves: bool | None = None) -> verilator.Build:
    """The FPGA path from the wire (``hw/ingress/top.py``): ingress in the MAC clock in front of the
    PCIe top (ring + DMA writer + BAR0 + UltraScale+ adapter) at ``width`` bits."""
    from ringgate.hw.ingress.top import WireTop

    top = WireTop(width, depth, max_messages=max_messages)
    return verilator.build(verilator.with_domains(top, ("sync", "mac")), f"wire_top_{width}_d{depth}_m{max_messages}",
                           waves=waves)
