"""The ingress as a top instantiates it: parser (MAC clock) -> dual-clock BRAM ring -> consumer (user clock)."""
from __future__ import annotations

from amaranth.hdl import DomainRenamer, Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from ringgate.contracts.datagram import COUNTER_NAMES, INGRESS, MAX_MESSAGES, SESSIONS
from ringgate.contracts.entry import ENTRY

from ..pcie.regs import register_signature
from ..ringbuf import RingBuffer
from .crossing import IngressCrossing
from .mac import MacRxSignature
from .parser import LANES, VERDICT, Parser

__all__ = ["IngressRing"]


class IngressRing(wiring.Component):
    """MAC receive stream in, published ring entries out: :class:`Parser` in the ``mac`` clock
    domain writes a :class:`~ringgate.hw.ringbuf.RingBuffer` whose consumer side is ``sync`` (the
    PCIe user clock); :class:`IngressCrossing` carries configuration and counter snapshots between
    the BAR0 register group ``ingress`` (:data:`~ringgate.contracts.datagram.INGRESS`) and the
    parser.

    Parameters
    ----------
    depth : int
        Ring slots.
    sessions, max_messages : int
        Parser build parameters.

    Members
    -------
    mac : In(MacRxSignature())
        The MAC's receive stream (``mac`` domain).
    o : Out(stream.Signature(ENTRY.layout()))
        Published entries in sequence order (``sync``).
    cursor, consumed : Out(64)
        Ring sequences (``sync``).
    fill : Out(range(depth + 1))
        Entries held.
    regs : In(register_signature(INGRESS))
        The ingress's BAR0 registers (``sync``): INGRESS_CONTROL (ENABLE kept, SNAPSHOT a strobe),
        INGRESS_STATUS, INGRESS_CAPS, the locked destination MAC/IP/port, the counter snapshot.
    timestamp : In(64)
        User-clock cycle counter (TIMESTAMP: paired with the MAC clock's in each snapshot).
    verdict, verdict_valid : Out(VERDICT), Out(1)
        One per frame (``mac`` domain; for monitors and latency stamps).
    publish : Out(1)
        The ring publishes this cycle (``mac`` domain).
    mac_timestamp : Out(64)
        MAC-clock cycle counter.
    """

    def __init__(self, depth: int = 256, *, sessions: int = SESSIONS, max_messages: int = MAX_MESSAGES):
        if max_messages > depth:
            raise ValueError(f"a datagram of {max_messages} messages cannot fit a ring of {depth}")
        self._depth, self._sessions, self._max = depth, sessions, max_messages
        super().__init__({
            "mac": In(MacRxSignature()),
            "o": Out(stream.Signature(ENTRY.layout())),
            "cursor": Out(64), "consumed": Out(64), "fill": Out(range(depth + 1)),
            "regs": In(register_signature(INGRESS)),
            "timestamp": In(64),
            "verdict": Out(VERDICT), "verdict_valid": Out(1),
            "publish": Out(1),
            "mac_timestamp": Out(64),
        })

    @property
    def depth(self) -> int:
        return self._depth

    def elaborate(self, platform):
        m = Module()
        m.submodules.parser = parser = DomainRenamer("mac")(Parser(sessions=self._sessions,
                                                                     max_messages=self._max))
        m.submodules.ring = ring = RingBuffer(self._depth, ENTRY.layout(), producer="claim", write_domain="mac",
                                              max_claim=self._max, lanes=LANES)
        m.submodules.crossing = x = IngressCrossing("mac")
        wiring.connect(m, wiring.flipped(self.mac), parser.mac)
        wiring.connect(m, parser.ring, ring.claim)
        wiring.connect(m, ring.o, wiring.flipped(self.o))
        m.d.comb += [
            self.cursor.eq(ring.cursor), self.consumed.eq(ring.consumed), self.fill.eq(ring.fill),
            parser.config.eq(x.config), x.mac_counters.eq(parser.counters), x.mac_enabled.eq(parser.enabled),
            x.mac_timestamp.eq(parser.timestamp), x.timestamp.eq(self.timestamp),
            self.verdict_valid.eq(parser.verdict_valid), self.verdict.eq(parser.verdict),
            self.publish.eq(parser.ring.publish), self.mac_timestamp.eq(parser.timestamp),
        ]
        self._registers(m, x)
        return m

    def _registers(self, m, x):
        r = self.regs
        enable = Signal()
        with m.If(r.ingress_control_w & ~r.ingress_control.snapshot):
            m.d.sync += enable.eq(r.ingress_control.enable)
        cnt = [getattr(r, n.lower()) for n in COUNTER_NAMES]
        m.d.comb += [
            x.enable.eq(enable), x.snapshot.eq(r.ingress_control_w & r.ingress_control.snapshot),
            x.mac_addr.eq(r.mac_addr.addr), x.ip_addr.eq(r.ip_addr), x.udp_port.eq(r.udp_port.port),
            r.ingress_control_r.enable.eq(enable),
            r.ingress_status.enabled.eq(x.enabled), r.ingress_status.snapshot_busy.eq(x.busy),
            r.ingress_caps.sessions.eq(self._sessions), r.ingress_caps.max_messages.eq(self._max),
            r.snap_mac_timestamp.eq(x.snap_mac_ts), r.snap_timestamp.eq(x.snap_ts),
            # The parser samples the addresses only while its (synchronized) ENABLE is low: refuse
            # writes from the ENABLE write until the MAC side has seen it drop again.
            r.lock.eq(enable | x.enabled),
            *(c.eq(x.counters[n]) for c, n in zip(cnt, COUNTER_NAMES)),
        ]
