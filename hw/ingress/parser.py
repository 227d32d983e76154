"""The order-datagram parser: fixed-offset checks as the beats pass, entries written into claimed
ring slots as they arrive, published when the frame's verdict is good (docs/ingress.md)."""
from __future__ import annotations

from amaranth.hdl import Cat, Const, Module, Mux, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from ringgate.contracts.datagram import (COMMANDS, ETHERTYPE_IPV4, ETHERTYPE_VLAN, IP_PROTO_UDP, MAGIC,
                                         MAX_MESSAGES, OUTCOMES, SESSIONS, VERSION, Drop)
from ringgate.contracts.entry import ENTRY

from ..ringbuf import ClaimSignature
from .checksum import OnesSum
from .counters import COUNTERS, Counters
from .mac import MacRxSignature
from .sessions import Sessions

__all__ = ["Parser", "CONFIG", "VERDICT", "LANES"]

LANES = 8                       # 64-bit write lanes of a 64-byte entry: one beat's worth
CONFIG = data.StructLayout({"enable": 1, "mac": 48, "ip": 32, "port": 16})
VERDICT = data.StructLayout({"code": range(OUTCOMES), "count": 8, "session": 32, "seq": 32, "gap": 32, "ts": 32})


def _be16(x, i):
    """The big-endian 16-bit field at byte lanes i, i + 1."""
    return Cat(x[8 * i + 8:8 * i + 16], x[8 * i:8 * i + 8])


def _lane(x, i):
    return x[8 * i:8 * i + 8]


class Parser(wiring.Component):
    """Ethernet II (one optional 802.1Q tag) / IPv4 / UDP order datagrams into claimed ring entries.

    Everything runs in the MAC's clock (``sync`` here; a top renames it). Beat ``k`` of a frame
    carries bytes ``8k .. 8k+7``; each header field is checked in the beat that completes it, into
    a per-frame flag for its :class:`~ringgate.contracts.datagram.Drop` reason. Fields behind the
    optional VLAN tag are read from a 4-byte-realigned copy of the stream (one beat later), and the
    datagram from a 2- or 6-byte-realigned one, so each check sits at one place. Both checksums are
    running sums beside the stream (:class:`OnesSum`), not a stage of it.

    The datagram's message count (beat 6) claims that many ring slots (beat 7); each message is
    written as it passes, one 64-bit lane per beat (the first lane, with the sequence the ring
    stamps and the frame's start cycle as ``ts``, a beat late), straight into its slot. With the
    last beat (``tlast``, the MAC's FCS verdict in ``tuser``) the claim is published (1 cycle
    later; 4 when the UDP checksum is non-zero and must be completed) or aborted. Every frame then
    produces one verdict (the first failing reason, in contract order) that the counters count.

    Parameters
    ----------
    sessions : int
        Session ids tracked (power of two, 1..256).
    max_messages : int
        Most messages per datagram (1..255).

    Members
    -------
    mac : In(MacRxSignature())
        The MAC's receive stream (no back-pressure).
    ring : Out(ClaimSignature(ENTRY.layout(), max_messages, LANES))
        Claims, lane writes, publish / abort into a :class:`~ringgate.hw.ringbuf.RingBuffer`.
    config : In(CONFIG)
        ENABLE, MAC_ADDR, IP_ADDR, UDP_PORT (MAC clock; change them only while disabled).
    counters : Out(COUNTERS)
        The BAR0 counters (MAC clock).
    verdict, verdict_valid : Out(VERDICT), Out(1)
        One per frame, 5 cycles after its last beat: outcome code, message count, session, seq,
        gap, start cycle.
    timestamp : Out(64)
        MAC-clock cycle counter (the clock of the entries' ``ts``).
    enabled : Out(1)
        Frames are parsed (ENABLE, and the session table is not being cleared).
    """

    def __init__(self, *, sessions: int = SESSIONS, max_messages: int = MAX_MESSAGES):
        if not isinstance(max_messages, int) or not 1 <= max_messages <= 255:
            raise ValueError(f"max_messages must be 1..255, not {max_messages!r}")
        if not isinstance(sessions, int) or sessions < 1 or sessions & (sessions - 1) or sessions > 256:
            raise ValueError(f"sessions must be a power of two from 1 to 256, not {sessions!r}")
        self._sessions, self._max = sessions, max_messages
        super().__init__({
            "mac": In(MacRxSignature()),
            "ring": Out(ClaimSignature(ENTRY.layout(), max_messages, LANES)),
            "config": In(CONFIG),
            "counters": Out(COUNTERS),
            "verdict": Out(VERDICT), "verdict_valid": Out(1),
            "timestamp": Out(64),
            "enabled": Out(1),
        })

    @property
    def sessions(self) -> int:
        return self._sessions

    @property
    def max_messages(self) -> int:
        return self._max

    def elaborate(self, platform):
        m = Module()
        m.submodules.sessions = ses = Sessions(self._sessions)
        m.submodules.counters = cnt = Counters()
        m.submodules.ip_sum = ip_sum = OnesSum()
        m.submodules.udp_sum = udp_sum = OnesSum()
        m.d.comb += self.counters.eq(cnt.counters)
        v, d, last = self.mac.tvalid, self.mac.tdata, self.mac.tlast

        # Where in the frame: one-hot beat position (bit 15: beat 15 or later) and a beat index.
        pos = Signal(16, init=1)
        idx = Signal(14)
        with m.If(v):
            m.d.sync += [pos.eq(Mux(last, 1, Cat(0, pos[:14], pos[14] | pos[15]))),
                         idx.eq(Mux(last, 0, Mux(idx.all(), idx, idx + 1)))]
        s = {"at": lambda k: v & pos[k], "pos": pos, "idx": idx, "end": v & last}

        now = Signal(64)
        m.d.sync += now.eq(now + 1)
        m.d.comb += self.timestamp.eq(now)

        prev = Signal(64)
        vlan = Signal()
        with m.If(v):
            m.d.sync += prev.eq(d)
        with m.If(s["at"](1)):
            m.d.sync += vlan.eq(_be16(d, 4) == ETHERTYPE_VLAN)
        # Behind a VLAN tag everything sits 4 bytes later: ``norm`` is the untagged frame's beat k - 1.
        norm = Signal(64)
        m.d.comb += norm.eq(Mux(vlan, Cat(prev[32:], d[:32]), prev))
        # The datagram starts at byte 42 (46 tagged): words realigned by 2 and by 6 bytes.
        w2, w6 = Signal(64), Signal(64)
        m.d.comb += [w2.eq(Cat(prev[16:], d[:16])), w6.eq(Cat(prev[48:], d[:48]))]
        ts = Signal(32)                 # the frame's start cycle
        s.update(prev=prev, vlan=vlan, norm=norm, w2=w2, w6=w6, now=now, ts=ts)

        fail = {r: Signal(name=f"fail_{r.name.lower()}") for r in Drop}
        self._headers(m, s, fail, ip_sum, udp_sum)
        self._sessions_and_claim(m, s, fail, ses)
        self._writer(m, s, fail)
        self._verdict(m, s, fail, ses, cnt, udp_sum)

        # ENABLE: each rising edge starts every session afresh.
        en_q = Signal()
        m.d.sync += en_q.eq(self.config.enable)
        m.d.comb += [ses.clear.eq(self.config.enable & ~en_q),
                     self.enabled.eq(en_q & ~ses.clearing)]
        return m

    def _headers(self, m, s, fail, ip_sum, udp_sum):
        """Ethernet, IPv4 and UDP header checks, lengths, both checksums, the datagram header."""
        at, d, norm, vlan, cfg = s["at"], self.mac.tdata, s["norm"], s["vlan"], self.config
        per_frame = [f for r, f in fail.items() if r not in (Drop.MAC_ERROR, Drop.SHORT, Drop.LENGTH,
                                                             Drop.UDP_CHECKSUM, Drop.COUNT, Drop.STALE, Drop.RING_FULL)]
        with m.If(at(0)):
            m.d.sync += [f.eq(0) for f in per_frame]
            m.d.sync += [fail[Drop.DISABLED].eq(~self.enabled),
                         fail[Drop.DST_MAC].eq(d[:48] != Cat(*(cfg.mac[8 * i:8 * i + 8] for i in reversed(range(6))))),
                         s["ts"].eq(s["now"][:32])]
        ver, ihl = norm[52:56], norm[48:52]
        total, udp_len, exp_last, exp_prev = Signal(16), Signal(16), Signal(14), Signal(14)
        exp_keep, at_exp, len_ok, ip_hi = Signal(8), Signal(), Signal(), Signal()
        need_csum = Signal()
        with m.If(at(2)):
            m.d.sync += [fail[Drop.ETHERTYPE].eq(_be16(norm, 4) != ETHERTYPE_IPV4),
                         fail[Drop.IP_HEADER].eq((ver != 4) | (ihl < 5)), fail[Drop.IP_OPTIONS].eq(ihl > 5)]
        with m.If(at(3)):
            m.d.sync += [total.eq(_be16(norm, 0)), fail[Drop.IP_FRAGMENT].eq(_be16(norm, 4)[:14] != 0),
                         fail[Drop.PROTOCOL].eq(_lane(norm, 7) != IP_PROTO_UDP)]
        flen = Signal(16)
        m.d.comb += flen.eq(total + Mux(vlan, 17, 13))            # frame bytes - 1
        with m.If(at(4)):
            m.d.sync += [ip_hi.eq(_be16(norm, 6) == cfg.ip[16:]), exp_last.eq(flen >> 3),
                         exp_keep.eq((Const(2, 9) << flen[:3]) - 1)]
        with m.If(at(5)):
            m.d.sync += [fail[Drop.DST_IP].eq(~ip_hi | (_be16(norm, 0) != cfg.ip[:16])),
                         fail[Drop.DST_PORT].eq(_be16(norm, 4) != cfg.port),
                         udp_len.eq(_be16(norm, 6)), exp_prev.eq(exp_last - 1)]
        with m.If(at(6)):
            m.d.sync += [need_csum.eq(_be16(norm, 0) != 0), len_ok.eq(total == udp_len + 20)]
        with m.If(self.mac.tvalid):
            m.d.sync += at_exp.eq(s["idx"] == exp_prev)
        with m.If(at(7)):
            m.d.sync += fail[Drop.IP_CHECKSUM].eq(~ip_sum.ok)
        # IPv4 header: untagged bytes 14..33 = norm of beats 2..5 (lanes 6-7, all, all, 0-1).
        m.d.comb += [ip_sum.beat.eq(norm), ip_sum.add.eq(at(2) | at(3) | at(4) | at(5)), ip_sum.start.eq(at(2)),
                     ip_sum.keep.eq(Mux(s["pos"][2], 0xC0, Mux(s["pos"][5], 0x03, 0xFF))), ip_sum.init.eq(0),
                     ip_sum.double.eq(0)]
        # UDP: pseudo header (addresses, protocol, length) + header + payload = bytes 26 (30) to
        # the end, + 17, with the UDP length (beat 4 lanes 6-7; tagged: beat 5 lanes 2-3) counted twice.
        m.d.comb += [udp_sum.beat.eq(d), udp_sum.add.eq(self.mac.tvalid & ~s["pos"][:3].any()), udp_sum.start.eq(at(3)),
                     udp_sum.keep.eq(self.mac.tkeep & Mux(s["pos"][3], Mux(vlan, 0xC0, 0xFC), 0xFF)),
                     udp_sum.init.eq(IP_PROTO_UDP),
                     udp_sum.double.eq(Cat(0, s["pos"][5] & vlan, 0, s["pos"][4] & ~vlan))]
        # Datagram header: magic, version, count, session (word 0, beat 6); seq (word 1, beat 7).
        w0 = Signal(64)
        m.d.comb += w0.eq(Mux(vlan, s["w6"], s["w2"]))
        count, range_ok = Signal(8), Signal()
        with m.If(at(6)):
            m.d.sync += [fail[Drop.MAGIC].eq((w0[:16] != MAGIC) | (w0[16:24] != VERSION)),
                         count.eq(w0[24:32]), range_ok.eq((w0[24:32] != 0) & (w0[24:32] <= self._max))]
        short = Signal()
        m.d.comb += short.eq(s["pos"][:7].any() | (s["pos"][7] & ~self.mac.tkeep[3]))
        s.update(w0=w0, count=count, range_ok=range_ok, udp_len=udp_len, need_csum=need_csum, short=short,
                 length_bad=~(at_exp & (self.mac.tkeep == exp_keep) & len_ok))

    def _sessions_and_claim(self, m, s, fail, ses):
        """Session lookup and the STALE test; the COUNT test; the ring claim and its answer."""
        at, w0, count = s["at"], s["w0"], s["count"]
        sbits = (self._sessions - 1).bit_length()
        session, seq, count_len = Signal(32), Signal(32), Signal(16)
        lookup, count_pass, granted = Signal(), Signal(), Signal()
        with m.If(at(6)):
            m.d.sync += [session.eq(w0[32:]), fail[Drop.SESSION].eq(w0[32 + sbits:] != 0)]
        m.d.sync += lookup.eq(at(6))
        with m.If(at(7)):
            m.d.sync += [seq.eq(w0[:32]), count_len.eq(20 + (count << 5) + (count << 4) + (count << 2))]
        with m.If(at(0)):
            m.d.sync += count_pass.eq(0)
        with m.If(at(8)):
            m.d.sync += count_pass.eq(s["range_ok"] & (s["udp_len"] == count_len))
        m.d.comb += [ses.session.eq(session[:sbits]), ses.seq.eq(seq), ses.lookup.eq(lookup)]
        # Claim in the cycle after the count arrived, for a frame still running.
        ring = self.ring
        m.d.sync += ring.req.eq(at(6) & ~self.mac.tlast & (w0[24:32] != 0) & (w0[24:32] <= self._max))
        with m.If(at(6)):
            m.d.sync += ring.count.eq(w0[24:32])
        # The parser's own view of the claim: open from the grant to its publish / abort.
        with m.If(ring.grant):
            m.d.sync += granted.eq(1)
        with m.Elif(ring.publish | ring.abort):
            m.d.sync += granted.eq(0)
        m.d.comb += [fail[Drop.COUNT].eq(~count_pass), fail[Drop.STALE].eq(ses.stale),
                     fail[Drop.RING_FULL].eq(~granted)]
        s.update(session=session, seq=seq, granted=granted)

    def _writer(self, m, s, fail):
        """Messages into their claimed slots: entry k's 64-bit lanes 2..7 in six consecutive beats
        (lanes 0 and 1 with lane 2: the ring's sequence, and ``ts`` + the message's first four
        bytes, held from the beat before); the realignment alternates between 2 and 6 bytes from one
        message to the next (messages are 52 bytes), with one idle beat after a 6-byte one."""
        at, v = s["at"], self.mac.tvalid
        k = Signal(range(self._max + 1))
        left = Signal(range(self._max + 1))     # messages after message k
        lane = Signal(8)                        # one-hot: the lane this beat completes (2..7); bit 1: idle beat
        six, active = Signal(), Signal()
        hold2, hold6 = Signal(32), Signal(32)
        with m.If(v):
            m.d.sync += [hold2.eq(s["w2"][32:]), hold6.eq(s["w6"][32:])]
        with m.If(at(7)):
            m.d.sync += [k.eq(0), left.eq(s["count"] - 1), lane.eq(0b100), six.eq(s["vlan"]),
                         active.eq(s["range_ok"])]
        with m.Elif(v & active):
            with m.If(lane[7]):
                m.d.sync += [k.eq(k + 1), left.eq(left - 1), six.eq(~six), lane.eq(Mux(six, 0b10, 0b100))]
                with m.If(left == 0):
                    m.d.sync += active.eq(0)
            with m.Else():
                m.d.sync += lane.eq(lane << 1)
        # A frame that ends before its messages stops its writer with its last beat.
        with m.If(s["end"]):
            m.d.sync += active.eq(0)
        ws, hold = Signal(64), Signal(32)
        m.d.comb += [ws.eq(Mux(six, s["w6"], s["w2"])), hold.eq(Mux(six, hold6, hold2))]
        writing = v & active & ~lane[1]
        m.d.comb += [
            self.ring.index.eq(k),
            self.ring.data.eq(Cat(Const(0, 64), s["ts"], hold, *([ws] * 6))),
            self.ring.en.eq(Mux(writing, lane | Mux(lane[2], 0b11, 0), 0)),
        ]
        cmd_ok = Signal()
        m.d.comb += cmd_ok.eq(Cat(hold[:8] == c for c in COMMANDS).any())
        with m.If(writing & lane[2] & ~cmd_ok):
            m.d.sync += fail[Drop.COMMAND].eq(1)

    def _verdict(self, m, s, fail, ses, cnt, udp_sum):
        """The frame's verdict: publish at once (no UDP checksum) or three cycles later (checksum
        completed and checked), else abort; the outcome (first failing reason) to the counters and
        ``verdict``."""
        end, ring = s["end"], self.ring
        late = {Drop.MAC_ERROR: self.mac.tuser, Drop.SHORT: s["short"], Drop.LENGTH: s["length_bad"]}
        fv = Signal(len(Drop))
        m.d.comb += fv.eq(Cat(late.get(r, fail[r] if r != Drop.UDP_CHECKSUM else 0) for r in Drop))
        pub_now, pub_late, abort = Signal(), Signal(), Signal()
        m.d.sync += pub_now.eq(end & ~fv.any() & ~s["need_csum"])
        # The verdict pipeline carries what the next frame overwrites early (its start cycle).
        v = [end] + [Signal(name=f"v{i}") for i in range(1, 5)]
        f = [fv] + [Signal(len(Drop), name=f"f{i}") for i in range(1, 5)]
        ts = [s["ts"]] + [Signal(32, name=f"ts{i}") for i in range(1, 5)]
        need1, need3, any3, udp_ok = Signal(), Signal(), Signal(), Signal()
        m.d.sync += [v[i].eq(v[i - 1]) for i in range(2, 5)] + [v[1].eq(end)]
        m.d.sync += [f[2].eq(f[1]), f[3].eq(f[2]), ts[2].eq(ts[1]), ts[3].eq(ts[2]), ts[4].eq(ts[3]),
                     any3.eq(f[2].any()), udp_ok.eq(udp_sum.ok)]
        need2 = Signal()
        m.d.sync += [need2.eq(need1), need3.eq(need2)]
        with m.If(end):
            m.d.sync += [f[1].eq(fv), need1.eq(s["need_csum"]), ts[1].eq(s["ts"])]
        # cycle E + 3: the UDP checksum check (complete at E + 2, registered) decides publish or abort
        bad_csum = Signal()
        m.d.comb += bad_csum.eq(need3 & ~udp_ok)
        m.d.sync += [pub_late.eq(v[3] & need3 & ~any3 & udp_ok),
                     # an early publish (cycle E + 1) has closed the claim by now: no abort then
                     abort.eq(v[3] & s["granted"] & (any3 | bad_csum)),
                     f[4].eq(f[3] | (bad_csum << (Drop.UDP_CHECKSUM - 1)))]
        m.d.comb += [ring.publish.eq(pub_now | pub_late), ring.abort.eq(abort)]
        # cycle E + 4: the outcome code, the first failing reason in contract order (lowest set bit)
        first = Signal(len(Drop))
        code = Signal(range(len(Drop) + 1))
        m.d.comb += [first.eq(f[4] & (~f[4] + 1)),
                     code.eq(Cat(Cat(first[i] for i in range(len(Drop)) if (i + 1) >> b & 1).any()
                                 for b in range(len(code))))]
        out = self.verdict
        m.d.sync += self.verdict_valid.eq(v[4])
        with m.If(v[4]):
            m.d.sync += [out.code.eq(code), out.count.eq(s["count"]), out.session.eq(s["session"]),
                         out.seq.eq(s["seq"]), out.gap.eq(Mux(f[4].any(), 0, ses.gap)), out.ts.eq(ts[4])]
        m.d.comb += [cnt.event.eq(self.verdict_valid), cnt.code.eq(out.code), cnt.entries.eq(out.count),
                     cnt.gap.eq(out.gap), cnt.session.eq(out.session), cnt.seq.eq(out.seq),
                     ses.update.eq(self.verdict_valid & (out.code == 0))]
