"""The board top: the PCIe hard block and the Ethernet MAC as black boxes around the gateware.

Clock domains (each with its own reset synchroniser, ``amaranth.lib.cdc.ResetSynchronizer``:
asserted asynchronously, released synchronously after two stages):

===========  ===============================================  ===================================
domain       clock                                            reset
===========  ===============================================  ===================================
``sync``     the PCIe IP's ``user_clk`` (250 MHz)             the IP's ``user_reset``, and nothing
                                                              else (see below)
``mgmt``     the board oscillator through an MMCM (100 MHz)   until the MMCM locks
``mac_rx``   the MAC's ``rx_clk_out_0`` (156.25 / 390.625)    the MAC's ``user_rx_reset_0``
===========  ===============================================  ===================================

Requirements this top meets, and which the PCIe reset work builds on:

- PERST# goes straight to the hard block's ``sys_reset`` (active low) and nowhere else.
- The gateware's reset is the IP's ``user_reset`` (high during PERST#, hot reset, link down and
  while the data link layer is not up), synchronised into ``user_clk``: nothing else resets the
  logic that drives RQ/CC, so the IP never sees a TLP cut short by a reset it did not make.
- The reference clock enters through ``IBUFDS_GTE4``: ``O`` to ``sys_clk_gt``, ``ODIV2``
  (``REFCLK_HROW_CK_SEL = 0``: undivided, 100 MHz) to ``sys_clk`` (PG213, "Clocking").

The ``mgmt`` domain sequences board bring-up (:class:`BringUp`): the QSFP clock generator's
reset (and its frequency select, where the FPGA sets it), the module's ResetL, then the MAC's
``sys_reset``; its clock is also the MAC's free-running ``dclk``.

The MAC's receive stream is the ingress boundary: :data:`MAC_RX` (PG210 RX AXI4-Stream, no
``tready``) in the ``mac_rx`` domain. An ingress plugs in there (``ingress=``): a component
with ``mac: In(MAC_RX)`` clocked by ``mac_rx`` and ``o: Out(stream.Signature(ENTRY.layout()))``
in ``sync``, feeding the ring. Without one, the ring gets no entries and the MAC stream ends at
the top's ``mac_rx__*`` signals.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from amaranth.hdl import (Cat, ClockDomain, ClockSignal, Const, Elaboratable, Instance, IOValue, Module,
                          ResetSignal, Signal)
from amaranth.lib import io, stream, wiring
from amaranth.lib.cdc import ResetSynchronizer
from amaranth.lib.wiring import In, Out

from ringgate.contracts.entry import ENTRY
from ringgate.contracts.pcie import USER_CLOCK_HZ
from ringgate.hw.pcie.top import PcieTop
from ringgate.hw.ringbuf import MAX_DEPTH, MIN_DEPTH

from .ip import LINK_WIDTH, MAC_MODULE, MAC_USER_CLOCK_HZ, PCIE_MODULE, MacIp, PcieIp, Port
from .platform import Board, mmcm_params

__all__ = ["MAC_RX", "BoardDesign", "BoardTop", "BringUp", "IngressBlackBox", "BlackBox", "MGMT_CLOCK_HZ",
           "connect_ip"]

MGMT_CLOCK_HZ = 100_000_000     # the MAC IP's default GT_DRP_CLK; also the bring-up timebase

MAC_RX = wiring.Signature({
    "tdata": Out(64), "tkeep": Out(8), "tlast": Out(1),
    "tuser": Out(1),            # on the last beat: the frame is bad (FCS or PHY error)
    "tvalid": Out(1),
})
"""The MAC's receive stream (PG210 RX AXI4-Stream, 64-bit): no ``tready``, the wire cannot wait."""

# IP output ports that are copies of one ready signal (the hard block offers four for fan-out);
# a gateware input of one bit takes the first copy.
READY_COPIES = frozenset({"s_axis_rq_tready", "s_axis_cc_tready"})


@dataclass(frozen=True)
class BlackBox:
    """A black-box instance of a top: its path, its module and ports, and which of the top's
    clock domains each of its port domains is (``domains``: IP clock name -> domain)."""
    path: str
    module: str
    ports: tuple[Port, ...]
    domains: dict[str, str]


class IngressBlackBox(wiring.Component):
    """The ingress slot filled with a black box (``ringgate_ingress``): for synthesis reports of
    the complete top before the ingress exists. Its outputs are unknown to yosys, so the ring,
    the DMA writer and BAR0 are all kept, as a real ingress keeps them. Not buildable in Vivado
    (a black box without a netlist): ``ringgate build`` leaves the slot empty instead.

    Members
    -------
    mac : In(:data:`MAC_RX`), in ``mac_rx``.
    o : Out(stream of ring entries), in ``sync``.
    """
    MODULE = "ringgate_ingress"

    def __init__(self):
        super().__init__({"mac": In(MAC_RX), "o": Out(stream.Signature(ENTRY.layout()))})

    @classmethod
    def ports(cls) -> tuple[Port, ...]:
        entry = ENTRY.layout().size
        return (Port("mac_clk", "i", 1, "clock"), Port("mac_rst", "i", 1, "mac_rx"),
                Port("clk", "i", 1, "clock"), Port("rst", "i", 1, "sync"),
                *(Port(f"mac_{n}", "i", w, "mac_rx") for n, w in
                  (("tdata", 64), ("tkeep", 8), ("tlast", 1), ("tuser", 1), ("tvalid", 1))),
                Port("o_valid", "o", 1, "sync"), Port("o_payload", "o", entry, "sync"),
                Port("o_ready", "i", 1, "sync"))

    def elaborate(self, platform):
        m = Module()
        mac = self.mac
        m.submodules.box = connect_ip(self.MODULE, self.ports(), drive={
            "mac_clk": ClockSignal("mac_rx"), "mac_rst": ResetSignal("mac_rx"),
            "clk": ClockSignal("sync"), "rst": ResetSignal("sync"),
            "mac_tdata": mac.tdata, "mac_tkeep": mac.tkeep, "mac_tlast": mac.tlast,
            "mac_tuser": mac.tuser, "mac_tvalid": mac.tvalid, "o_ready": self.o.ready,
        }, used_outputs={"o_valid": self.o.valid, "o_payload": self.o.payload.as_value()})
        return m


@dataclass(frozen=True)
class BoardDesign:
    """One buildable configuration of a board top; everything a build writes comes from here.

    Members
    -------
    board : the :class:`Board` subclass.
    width : PCIe datapath bits, 256 (Gen3 x8) or 512 (Gen3 x16).
    ring_depth : entries of the BRAM ring.
    line_rate : the MAC's, 10 or 25 (Gb/s).
    ingress : a factory of the component in the ingress slot (None: the slot stays empty).
    """
    board: type[Board]
    width: int = 256
    ring_depth: int = 1024
    line_rate: int = 10
    ingress: Callable[[], Elaboratable] | None = None

    def __post_init__(self):
        # refused here, before anything is elaborated
        if self.width not in LINK_WIDTH:
            raise ValueError(f"PCIe datapath width must be 256 or 512 bits, not {self.width!r}")
        d = self.ring_depth
        if not isinstance(d, int) or d & (d - 1) or not MIN_DEPTH <= d <= MAX_DEPTH:
            raise ValueError(f"ring depth must be a power of two from {MIN_DEPTH} to {MAX_DEPTH}, not {d!r}")
        if self.line_rate not in MAC_USER_CLOCK_HZ:
            raise ValueError(f"MAC line rate must be 10 or 25 (Gb/s), not {self.line_rate!r}")

    @property
    def name(self) -> str:
        """The top module's name."""
        return f"ringgate_{self.board.name}"

    @property
    def lanes(self) -> int:
        return LINK_WIDTH[self.width]

    @property
    def pcie_ip(self) -> PcieIp:
        b = self.board
        return PcieIp(self.width, block=b.pcie_block, quad=b.pcie_quad,
                      subsystem_vendor=b.subsystem_vendor, subsystem=b.subsystem)

    @property
    def mac_ip(self) -> MacIp:
        b = self.board
        refclk = next(r.clock.frequency for r in b.resources if r.name == "qsfp_refclk")
        return MacIp(self.line_rate, refclk_hz=refclk, gt_group=b.qsfp.gt_group,
                     lane_loc=b.qsfp.lane_loc, drp_clk_hz=MGMT_CLOCK_HZ)

    @property
    def clocks_hz(self) -> dict[str, float]:
        """Frequency of each clock domain of the top."""
        return {"sync": USER_CLOCK_HZ, "mgmt": MGMT_CLOCK_HZ, "mac_rx": self.mac_ip.user_clock_hz}

    def platform(self) -> Board:
        return self.board()

    def blackboxes(self) -> list[BlackBox]:
        """The black boxes of the elaborated top, for stubs and clock-domain checks."""
        out = [BlackBox("pcie_ip", PCIE_MODULE, self.pcie_ip.ports, {"user_clk": "sync"}),
               BlackBox("mac_ip", MAC_MODULE, self.mac_ip.ports,
                        {"rx_clk_out_0": "mac_rx", "tx_clk_out_0": "mac_tx"})]
        if self.ingress is IngressBlackBox:
            out.append(BlackBox("ingress.box", IngressBlackBox.MODULE, IngressBlackBox.ports(),
                                {"mac_rx": "mac_rx", "sync": "sync"}))
        return out

    def top(self) -> "BoardTop":
        return BoardTop(self)


class BringUp(wiring.Component):
    """Board bring-up sequence in the free-running management domain.

    After its reset: the QSFP clock generator held in reset and the module's ResetL low for
    ``hold`` cycles; then both released, and after another ``hold`` cycles (the clock settles)
    the MAC's ``sys_reset`` released. Outputs are registers (they drive pins and an IP reset).

    Members
    -------
    refclk_reset : Out(1), high while the QSFP clock generator is held in reset.
    qsfp_resetl : Out(1), the module's ResetL (low: module in reset).
    mac_reset : Out(1), the MAC's ``sys_reset`` (high: in reset).
    heartbeat : Out(1), toggles every ``2**heartbeat_bit`` cycles (a LED shows the clock runs).
    """

    def __init__(self, hold: int, heartbeat_bit: int = 26):
        if hold < 1:
            raise ValueError(f"hold must be at least one cycle, not {hold!r}")
        self.hold = hold
        self.heartbeat_bit = heartbeat_bit
        super().__init__({"refclk_reset": Out(1, init=1), "qsfp_resetl": Out(1, init=0),
                          "mac_reset": Out(1, init=1), "heartbeat": Out(1)})

    def elaborate(self, platform):
        m = Module()
        count = Signal(range(self.hold))
        phase = Signal(2)              # 0: clock generator in reset, 1: settling, 2: running
        with m.If(phase != 2):
            with m.If(count == self.hold - 1):
                m.d.mgmt += [count.eq(0), phase.eq(phase + 1)]
            with m.Else():
                m.d.mgmt += count.eq(count + 1)
        m.d.mgmt += [
            self.refclk_reset.eq(phase == 0),
            self.qsfp_resetl.eq(phase != 0),
            self.mac_reset.eq(phase != 2),
        ]
        beat = Signal(self.heartbeat_bit + 1)
        m.d.mgmt += beat.eq(beat + 1)
        m.d.comb += self.heartbeat.eq(beat[-1])
        return m


def connect_ip(module: str, ports: tuple[Port, ...], drive: dict, used_outputs: dict) -> Instance:
    """The ``Instance`` of an IP: every input driven (by ``drive``, else its tie-off), the
    outputs in ``used_outputs`` connected. Refuses an unknown port, a width mismatch, or an
    input with neither a driver nor a tie-off."""
    by_name = {p.name: p for p in ports}
    for name in (*drive, *used_outputs):
        if name not in by_name:
            raise ValueError(f"{module} has no port {name!r}")
    kw = {}
    for p in ports:
        if p.dir == "i":
            if p.name in drive:
                value = drive[p.name]
                width = len(value) if not isinstance(value, int) else p.width
                if width != p.width and not _is_io(value):
                    raise ValueError(f"{module}.{p.name} is {p.width} bits, driven by {width}")
                kw[f"i_{p.name}"] = value
            elif p.tie is not None:
                kw[f"i_{p.name}"] = Const(p.tie, p.width)
            else:
                raise ValueError(f"{module}.{p.name} is an input with no driver and no tie-off")
        elif p.name in used_outputs:
            sink = used_outputs[p.name]
            if len(sink) != p.width and not _is_io(sink):
                raise ValueError(f"{module}.{p.name} is {p.width} bits, connected to {len(sink)}")
            kw[f"o_{p.name}"] = sink
    return Instance(module, **kw)


def _is_io(value) -> bool:
    return isinstance(value, IOValue)


class BoardTop(Elaboratable):
    """Ring + DMA writer + BAR0 + UltraScale+ adapter (:class:`PcieTop`) between the PCIe hard
    block and the Ethernet MAC of a board: clocks, resets, bring-up, LEDs (0: PCIe link up,
    1: Ethernet RX link up, 2: management clock heartbeat).

    Members
    -------
    design : the :class:`BoardDesign` this top elaborates.
    core : the :class:`PcieTop` inside (the ring, the DMA writer, BAR0).
    mac_rx : the MAC's receive stream (:data:`MAC_RX`, ``mac_rx`` domain), the ingress boundary.
    """

    def __init__(self, design: BoardDesign):
        self.design = design
        self.core = PcieTop(design.width, design.ring_depth)
        self.mac_rx = MAC_RX.create(path=("mac_rx",))

    def elaborate(self, platform):
        d = self.design
        if not isinstance(platform, d.board):
            raise TypeError(f"this top is built for {d.board.__name__}, not {type(platform).__name__}")
        m = Module()
        m.submodules.core = core = self.core
        m.domains.sync = ClockDomain("sync")
        m.domains.mgmt = ClockDomain("mgmt")
        m.domains.mac_rx = ClockDomain("mac_rx")

        self._pcie(m, platform, core)
        bringup = self._mgmt(m, platform)
        rx_status = self._mac(m, platform, bringup)

        qsfp = platform.request("qsfp_ctl", 0, dir="-")
        outputs = {"modsell": 0, "lpmode": 0, "resetl": bringup.qsfp_resetl}
        if platform.qsfp.refclk_select is not None:
            outputs.update(fs=platform.qsfp.refclk_select, refclk_reset=bringup.refclk_reset)
        for name, value in outputs.items():
            m.d.comb += _output(m, f"qsfp_{name}", getattr(qsfp, name)).eq(value)
        for i, value in enumerate((self._lnk_up, rx_status, bringup.heartbeat)):
            m.d.comb += _output(m, f"led{i}", platform.request("led", i, dir="-")).eq(value)

        if d.ingress is not None:
            m.submodules.ingress = ingress = d.ingress()
            wiring.connect(m, self.mac_rx, ingress.mac)
            wiring.connect(m, ingress.o, core.i)
        else:
            m.d.comb += core.i.valid.eq(0)
        return m

    def _pcie(self, m, platform, core):
        d = self.design
        ip = d.pcie_ip
        refclk = platform.request("pcie_refclk", 0, dir="-")
        lanes = [platform.request("pcie_lanes", n, dir={"rx": "-", "tx": "-"})
                 for n in platform.lanes_resources(d.lanes)]
        m.submodules.pcie_perst_buf = perst = io.Buffer("i", platform.request("pcie_perst", 0, dir="-"))
        sys_clk, sys_clk_gt = Signal(name="pcie_sys_clk"), Signal(name="pcie_sys_clk_gt")
        m.submodules.pcie_refclk_buf = Instance(
            "IBUFDS_GTE4", p_REFCLK_HROW_CK_SEL=0, i_I=refclk.p, i_IB=refclk.n, i_CEB=Const(0),
            o_O=sys_clk_gt, o_ODIV2=sys_clk)

        user_reset = Signal(name="pcie_user_reset")
        self._lnk_up = Signal(name="pcie_user_lnk_up")
        drive = {"sys_clk": sys_clk, "sys_clk_gt": sys_clk_gt, "sys_reset": ~perst.i,
                 "pci_exp_rxp": _cat_io(lane.rx.p for lane in lanes),
                 "pci_exp_rxn": _cat_io(lane.rx.n for lane in lanes)}
        outputs = {"user_clk": ClockSignal("sync"), "user_reset": user_reset, "user_lnk_up": self._lnk_up,
                   "pci_exp_txp": _cat_io(lane.tx.p for lane in lanes),
                   "pci_exp_txn": _cat_io(lane.tx.n for lane in lanes)}
        # The gateware's IP-side ports carry the IP's own names: connect them by name.
        widths = {p.name: p for p in ip.ports}
        for path, member, value in core.signature.flatten(core):
            name = path[0] if len(path) == 1 else None
            if name not in widths:
                continue
            port = widths[name]
            if port.dir == "i":
                drive[name] = value
            elif name in READY_COPIES and len(value) < port.width:
                copies = Signal(port.width, name=f"{name}_copies")
                outputs[name] = copies
                m.d.comb += value.eq(copies[:len(value)])
            else:
                outputs[name] = value
        m.submodules.pcie_ip = connect_ip(ip.module, ip.ports, drive, outputs)
        m.submodules.pcie_rst_sync = ResetSynchronizer(user_reset, domain="sync")

    def _mgmt(self, m, platform) -> BringUp:
        m.submodules.sysclk_buf = sysclk = io.Buffer("i", platform.request("sysclk", 0, dir="-"))
        p = mmcm_params(platform.clock_hz("sysclk"), MGMT_CLOCK_HZ)
        feedback = Signal(name="mgmt_mmcm_feedback")
        clk_unbuf = Signal(name="mgmt_mmcm_clkout0")
        locked = Signal(name="mgmt_mmcm_locked")
        m.submodules.mgmt_mmcm = Instance(
            "MMCME4_BASE", p_CLKIN1_PERIOD=p["CLKIN1_PERIOD"], p_DIVCLK_DIVIDE=p["DIVCLK_DIVIDE"],
            p_CLKFBOUT_MULT_F=p["CLKFBOUT_MULT_F"], p_CLKOUT0_DIVIDE_F=p["CLKOUT0_DIVIDE_F"],
            i_CLKIN1=sysclk.i, i_CLKFBIN=feedback, o_CLKFBOUT=feedback, o_CLKOUT0=clk_unbuf,
            i_RST=Const(0), i_PWRDWN=Const(0), o_LOCKED=locked)
        m.submodules.mgmt_bufg = Instance("BUFG", i_I=clk_unbuf, o_O=ClockSignal("mgmt"))
        m.submodules.mgmt_rst_sync = ResetSynchronizer(~locked, domain="mgmt")
        # 20 us per bring-up phase (corundum holds the SI5335 in reset for 1024 cycles of the
        # ~50 MHz configuration clock, then waits as long again)
        m.submodules.bringup = bringup = BringUp(hold=MGMT_CLOCK_HZ // 50_000)
        return bringup

    def _mac(self, m, platform, bringup: BringUp) -> Signal:
        ip = self.design.mac_ip
        refclk = platform.request("qsfp_refclk", 0, dir="-")
        lane = platform.request("qsfp_lane", 0, dir={"rx": "-", "tx": "-"})
        user_rx_reset = Signal(name="mac_user_rx_reset")
        rx_status = Signal(name="mac_rx_status")
        rx = self.mac_rx
        m.submodules.mac_ip = connect_ip(ip.module, ip.ports, drive={
            "gt_refclk_p": refclk.p, "gt_refclk_n": refclk.n,
            "gt_rxp_in": lane.rx.p, "gt_rxn_in": lane.rx.n,
            "dclk": ClockSignal("mgmt"), "sys_reset": bringup.mac_reset,
            # with the user FIFO any clock of the RX clock's frequency may clock the stream;
            # its own is the one the data arrives on
            "rx_core_clk_0": ClockSignal("mac_rx"),
        }, used_outputs={
            "gt_txp_out": lane.tx.p, "gt_txn_out": lane.tx.n,
            "rx_clk_out_0": ClockSignal("mac_rx"), "user_rx_reset_0": user_rx_reset,
            "stat_rx_status_0": rx_status,
            "rx_axis_tvalid_0": rx.tvalid, "rx_axis_tdata_0": rx.tdata, "rx_axis_tkeep_0": rx.tkeep,
            "rx_axis_tlast_0": rx.tlast, "rx_axis_tuser_0": rx.tuser,
        })
        m.submodules.mac_rx_rst_sync = ResetSynchronizer(user_rx_reset, domain="mac_rx")
        return rx_status


def _output(m, name, port):
    """An output buffer on a board pin; returns what drives it."""
    m.submodules[f"{name}_buf"] = buf = io.Buffer("o", port)
    return buf.o


def _cat_io(ports):
    """The lanes of several resources as one IP port (lane 0 in bit 0)."""
    return Cat(*ports)
