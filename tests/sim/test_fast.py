"""The generated C++ main (sim/fast): clock scheduler with several domains, the line protocol."""
import pytest
from amaranth.hdl import ClockDomain, Module, Signal
from amaranth.lib import fifo, wiring
from amaranth.lib.wiring import In, Out

from ringgate.sim import verilator
from ringgate.sim.fast.cxxmain import Clock, generate, ports_of, registered_reset_top
from ringgate.sim.fast.runner import FastSim, FastSimError

# The ingress clock ratios: 10G MAC (156.25 MHz), 25G MAC (390.625 MHz) against the 250 MHz user clock.
USER_PS, MAC10_PS, MAC25_PS = 4000, 6400, 2560


class TwoDomains(wiring.Component):
    """A counter in each of two clock domains, and a stream of sequence numbers from ``mac`` to
    ``sync`` through an asynchronous FIFO, checked on arrival."""

    def __init__(self):
        super().__init__({"mac_clk": In(1), "mac_rst": In(1), "go": In(1), "sync_edges": Out(32), "mac_edges": Out(32), "received": Out(32),
                          "errors": Out(32), "sent": Out(32)})

    def elaborate(self, platform):
        m = Module()
        m.domains.mac = mac = ClockDomain()
        m.d.comb += [mac.clk.eq(self.mac_clk), mac.rst.eq(self.mac_rst)]
        m.d.sync += self.sync_edges.eq(self.sync_edges + 1)
        m.d.mac += self.mac_edges.eq(self.mac_edges + 1)
        m.submodules.cdc = cdc = fifo.AsyncFIFO(width=32, depth=8, r_domain="sync", w_domain="mac")
        go_mac = Signal()
        m.d.mac += go_mac.eq(self.go)
        m.d.comb += [cdc.w_data.eq(self.sent), cdc.w_en.eq(go_mac), cdc.r_en.eq(1)]
        with m.If(cdc.w_en & cdc.w_rdy):
            m.d.mac += self.sent.eq(self.sent + 1)
        with m.If(cdc.r_rdy):
            m.d.sync += self.received.eq(self.received + 1)
            with m.If(cdc.r_data != self.received):
                m.d.sync += self.errors.eq(self.errors + 1)
        return m


def _build():
    from amaranth.back import verilog

    dut = TwoDomains()
    ports = ports_of(dut)
    core = verilog.convert(dut, name="twodom_core", emit_src=False)
    top = registered_reset_top(core, "twodom_core", "twodom", ports, {"rst": "clk", "mac_rst": "mac_clk"})
    main = generate("twodom", ports, [Clock("clk", USER_PS), Clock("mac_clk", MAC10_PS)])
    return verilator.build_exe(top, "twodom", main, args=("-O1",))


def rises(period_ps: int, phase_ps: int, t_ps: int) -> int:
    """Rising edges of a clock (first at phase + half a period) up to and including ``t_ps``."""
    first = phase_ps + period_ps // 2
    return 0 if t_ps < first else (t_ps - first) // period_ps + 1


@pytest.mark.parametrize("mac_ps,phase_ps", [(MAC10_PS, 0), (MAC25_PS, 0), (MAC10_PS, 1234)])
def test_clock_scheduler_keeps_exact_ratios_and_a_cdc_fifo_loses_nothing(mac_ps, phase_ps):
    exe = _build()                  # one build for every ratio: periods are set at run time
    with FastSim(exe.binary) as sim:
        sim.set_clock("mac_clk", mac_ps, phase_ps)
        sim.set(rst=1, mac_rst=1)
        sim.run(3)
        sim.run(3, clock="mac_clk")
        sim.set(rst=0, mac_rst=0)
        t0 = sim.run(10)               # both resets released through their flops by now
        base = sim.get("sync_edges", "mac_edges")
        sim.set(go=1)
        r = sim.run(10_007)
        assert r.edges == 10_007
        assert r.sim_ps - t0.sim_ps == 10_007 * USER_PS and r.sim_ps % USER_PS == USER_PS // 2
        got = sim.get("sync_edges", "mac_edges", "sent", "received", "errors")
        assert got["sync_edges"] - base["sync_edges"] == 10_007
        assert got["mac_edges"] - base["mac_edges"] == rises(mac_ps, phase_ps, r.sim_ps) - rises(mac_ps, phase_ps, t0.sim_ps)
        # Everything written crossed in order; the consumer is never more than the FIFO behind.
        assert got["errors"] == 0
        assert 0 < got["sent"] - got["received"] <= 8 + 4
        if mac_ps > USER_PS:        # the slower writer sets the pace
            assert got["sent"] == pytest.approx(10_007 * USER_PS / mac_ps, abs=8)
        # Run by the other clock: its own edge count, exactly.
        r2 = sim.run(1000, clock="mac_clk")
        assert sim.get("mac_edges")["mac_edges"] - got["mac_edges"] == 1000
        assert r2.sim_ps % mac_ps == (phase_ps + mac_ps // 2) % mac_ps


def test_protocol_errors_leave_the_model_usable():
    exe = _build()
    with FastSim(exe.binary) as sim:
        with pytest.raises(FastSimError, match="even"):
            sim.set_clock("mac_clk", 6401)
        with pytest.raises(FastSimError, match="unknown clock"):
            sim.set_clock("nope", 6400)
        with pytest.raises(FastSimError, match="unknown port nope"):
            sim.get("nope")
        with pytest.raises(FastSimError, match="is an output"):
            sim.set(received=3)
        with pytest.raises(FastSimError, match="does not fit"):
            sim.set(go=2)
        with pytest.raises(FastSimError, match="unknown clock"):
            sim.run(5, clock="nope")
        with pytest.raises(FastSimError, match="unknown port"):
            sim.run(5, until="nope")
        sim.set(rst=0, mac_rst=0)
        seen = []
        r = sim.run(5000, progress=seen.append, every=1000)
        assert r.edges == 5000 and seen == [1000, 2000, 3000, 4000]
        with pytest.raises(FastSimError, match="before the first run"):
            sim.set_clock("mac_clk", 2560)
        # ``until`` stops at the first edge after which the port reads non-zero.
        before = sim.get("sync_edges")["sync_edges"]
        r = sim.run(10**9, until="sync_edges")     # already non-zero: stops after one edge
        assert r.edges == 1 and sim.get("sync_edges")["sync_edges"] == before + 1


def test_clock_definitions_are_checked():
    with pytest.raises(ValueError, match="even"):
        Clock("clk", 4001)
    with pytest.raises(ValueError, match="phase"):
        Clock("clk", 4000, 4000)
    with pytest.raises(ValueError, match="twice"):
        generate("t", [], [Clock("clk", 4000), Clock("clk", 6400)])
    with pytest.raises(ValueError, match="at least one clock"):
        generate("t", [], [])


def test_a_dead_model_is_reported_with_its_exit_status():
    with pytest.raises(FastSimError, match="exited with 1"):
        with FastSim("/bin/false") as sim:
            sim.get("anything")
