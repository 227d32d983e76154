"""Xilinx UltraScale+ PCIe hard block adapter (PG213 AXI4-Stream interfaces, DWORD-aligned mode).

- :class:`UspRequester`: the DMA core's line stream -> RQ (``s_axis_rq_*``). Builds the
  128-bit Memory Write descriptor, shifts the payload by the descriptor's 4 dwords, and
  drives first/last byte enables, SOP/EOP (512-bit) and ``seq_num`` in ``tuser``. It counts
  TLPs handed to RQ and the ``pcie_rq_seq_num_vld`` returns, so ``busy`` stays high until
  the IP has committed every TLP to its ordered transmit pipeline (disable and reset wait
  for that). A sequence number that does not come back within ``seq_timeout`` cycles of
  the last return (the block drops requests while bus mastering is off and returns nothing
  for them) voids every outstanding TLP and pulses ``lost``: the wait is bounded.
- :class:`UspCompleter`: CQ requests to BAR0 -> the register block's dword-access stream,
  and the answers -> CC completions. Memory Read of 1 DW, or 2 DW 8-byte aligned, is
  answered with data; any other non-posted request gets an Unsupported Request
  completion; a Memory Write is passed on only if it is 1 DW, or 2 DW 8-byte aligned, with
  all byte enables set; anything else posted is dropped. Every refusal pulses ``bad``.

Relaxed ordering, no-snoop and IDO stay 0 in every descriptor: posted writes from this
requester reach host memory in issue order, so the cursor never overtakes its data.

Beat layout of a data TLP of ``k`` 64-byte entries (q = 16-byte quarter of an entry):
256-bit: [desc|e0.q0] [e0.q1|e0.q2] [e0.q3|e1.q0] ... [e(k-1).q3] = 2k+1 beats;
512-bit: [desc|e0.q0-q2] [e0.q3|e1.q0-q2] ... [e(k-1).q3] = k+1 beats.
The cursor TLP (6 dwords) is 2 beats at 256 bits and 1 beat at 512 bits.
"""
from __future__ import annotations

from amaranth.hdl import Array, Cat, Const, Module, Mux, Signal
from amaranth.lib import enum, stream, wiring
from amaranth.lib.wiring import In, Out

from .axis import RQ_SEQ_NUM, AxiStreamSignature
from .bar0 import REG_REQ, REG_RESP
from ..pcie_dma import CURSOR_DWORDS, REQ_LAYOUT

__all__ = ["UspRequester", "UspCompleter", "TUSER"]

# tuser widths of the UltraScale+ block per datapath width
TUSER = {
    256: {"rq": 62, "cq": 88, "cc": 33, "rc": 75},
    512: {"rq": 137, "cq": 183, "cc": 81, "rc": 161},
}


def _check_width(width):
    if width not in TUSER:
        raise ValueError(f"UltraScale+ adapter supports 256 or 512-bit datapaths, not {width!r}")


def rq_descriptor(addr, ndw):
    """128-bit RQ Memory Write descriptor; requester ID is filled in by the IP (enable=0)."""
    return Cat(Const(0, 2), addr[2:64],  # AT=0 (untranslated), address
               ndw[:11], Const(0b0001, 4),   # dword count, request type MWr
               Const(0, 1),                 # poisoned
               Const(0, 16), Const(0, 8),   # requester ID, tag
               Const(0, 16), Const(0, 1),   # completer ID, requester ID enable
               Const(0, 3), Const(0, 3),    # TC 0, attr {IDO, RO, NS} = 0
               Const(0, 1))                 # force ECRC


class UspRequester(wiring.Component):
    """The DMA writer's request stream onto the UltraScale+ RQ interface.

    Builds descriptors and datapath beats and counts the TLPs in flight until the block
    returns their sequence numbers.

    Parameters
    ----------
    width : int
        Datapath bits, 256 or 512.
    seq_timeout : int
        Cycles without a returned sequence number, with TLPs outstanding, after which they are
        given up as lost (4096 = 16 us at 250 MHz, far above the block's pipeline latency).

    Members
    -------
    req : In(stream.Signature(REQ_LAYOUT))
        64-byte lines with the request header on the first line (``hw/pcie_dma.py``).
    axis : Out(AxiStreamSignature(width, TUSER[width]["rq"]))
        The RQ interface (``s_axis_rq_*``).
    seq : In(RQ_SEQ_NUM)
        Sequence numbers of TLPs that left the block (``pcie_rq_seq_num*``).
    busy : Out(1)
        A beat held, a TLP being formed, or a TLP not yet returned by the block.
    tlps : Out(32)
        TLPs handed to RQ.
    lost : Out(1)
        One-cycle pulse: outstanding TLPs were given up (no sequence number in ``seq_timeout``).
    """

    def __init__(self, width: int = 256, *, seq_timeout: int = 4096):
        _check_width(width)
        if seq_timeout < 2:
            raise ValueError(f"seq_timeout must be at least 2 cycles, not {seq_timeout!r}")
        self._w = width
        self._timeout = seq_timeout
        super().__init__({
            "req": In(stream.Signature(REQ_LAYOUT)),
            "axis": Out(AxiStreamSignature(width, TUSER[width]["rq"])),
            "seq": In(RQ_SEQ_NUM),
            "busy": Out(1),
            "tlps": Out(32),
            "lost": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        W = self._w
        p = self.req.payload
        ax = self.axis
        q = [p.line[128 * i:128 * (i + 1)] for i in range(4)]

        out_free = Signal()
        m.d.comb += out_free.eq(~ax.tvalid | ax.tready)
        with m.If(ax.tready):
            m.d.sync += ax.tvalid.eq(0)

        carry = Signal(128)
        seq = Signal(6)
        tlps = Signal(32)
        # TLPs handed over and not returned, mod 2**16 (the block's 6-bit sequence numbers and its
        # buffers keep the true count far below that): "outstanding" is a 16-bit test for zero
        # rather than a compare of two 32-bit counts, which ABC9 may map as a chain of LUTs.
        inflight = Signal(16)
        ndw = Signal(11)
        first_be = Const(0xF, 4)
        last_be = Signal(4)
        m.d.comb += [ndw.eq(p.ndw), last_be.eq(Mux(ndw == 1, 0, 0xF))]
        head = Signal(128)
        m.d.comb += head.eq(Mux(p.first, rq_descriptor(p.addr, ndw), carry))

        handed = Signal()
        m.d.comb += handed.eq(ax.tvalid & ax.tready & ax.tlast)
        with m.If(handed):
            m.d.sync += [tlps.eq(tlps + 1), seq.eq(seq + 1)]
        m.d.sync += inflight.eq(inflight + handed - self.seq.seq_num_vld0 - self.seq.seq_num_vld1)
        # TLPs not yet returned by the IP: the test for zero is registered; the TLP handed
        # over in the previous cycle is covered by `just_sent` until the test sees it.
        outstanding = Signal()
        just_sent = Signal()
        m.d.sync += [outstanding.eq(inflight != 0), just_sent.eq(handed)]
        # A sequence number that never returns must not keep ``busy`` up for ever: after
        # ``seq_timeout`` quiet cycles the outstanding TLPs are voided (a late return then only
        # takes the count below zero, which the next timeout voids too).
        quiet = Signal(range(self._timeout + 1))
        got = Signal()
        m.d.comb += got.eq(self.seq.seq_num_vld0 | self.seq.seq_num_vld1)
        with m.If(~outstanding | got):
            m.d.sync += quiet.eq(0)
        with m.Elif(quiet == self._timeout - 1):
            m.d.sync += [quiet.eq(0), inflight.eq(handed), self.lost.eq(1)]
        with m.Else():
            m.d.sync += quiet.eq(quiet + 1)
        with m.If(self.lost):
            m.d.sync += self.lost.eq(0)

        def keep(n):
            return Const((1 << n) - 1, W // 32)

        if W == 256:
            class S(enum.Enum, shape=2):
                A = 0
                B = 1
                C = 2
            state = Signal(S)
            hold = Signal(512)
            h_cursor = Signal()
            h_last = Signal()
            hq = [hold[128 * i:128 * (i + 1)] for i in range(4)]
            tuser_sop = Cat(first_be, last_be, Const(0, 16), seq[:4], Const(0, 32), seq[4:6])
            assert len(tuser_sop) == 62
            # The line registers load on the state alone, not on RQ's tready: in A they take
            # whatever is offered (the state leaves A only on a handshake, which loads the
            # line that went); in B the line is held, so its last quarter can be copied on
            # every B cycle. tready then reaches only the beat registers and the request's ready.
            with m.If(state == S.A):
                m.d.sync += [hold.eq(p.line), h_cursor.eq(p.cursor), h_last.eq(p.last)]
            with m.If(state == S.B):
                m.d.sync += carry.eq(hq[3])
            with m.Switch(state):
                with m.Case(S.A):
                    m.d.comb += self.req.ready.eq(out_free)
                    with m.If(self.req.valid & out_free):
                        m.d.sync += [
                            ax.tvalid.eq(1), ax.tdata.eq(Cat(head, q[0])), ax.tkeep.eq(keep(8)),
                            ax.tlast.eq(0), ax.tuser.eq(Mux(p.first, tuser_sop, 0)), state.eq(S.B),
                        ]
                with m.Case(S.B):
                    with m.If(out_free):
                        m.d.sync += [ax.tvalid.eq(1), ax.tdata.eq(Cat(hq[1], hq[2])), ax.tuser.eq(0)]
                        with m.If(h_cursor):
                            m.d.sync += [ax.tkeep.eq(keep(CURSOR_DWORDS - 4)), ax.tlast.eq(1),
                                         state.eq(S.A)]
                        with m.Else():
                            m.d.sync += [ax.tkeep.eq(keep(8)), ax.tlast.eq(0),
                                         state.eq(Mux(h_last, S.C, S.A))]
                with m.Case(S.C):
                    with m.If(out_free):
                        m.d.sync += [ax.tvalid.eq(1), ax.tdata.eq(carry), ax.tkeep.eq(keep(4)),
                                     ax.tlast.eq(1), ax.tuser.eq(0), state.eq(S.A)]
            m.d.comb += self.busy.eq(ax.tvalid | (state != S.A) | outstanding | just_sent)
        else:
            class S(enum.Enum, shape=1):
                L = 0
                T = 1
            state = Signal(S)

            def tuser512(sop, eop, eop_ptr):
                t = Cat(first_be, Const(0, 4), last_be, Const(0, 4),      # first_be[7:0], last_be[15:8]
                        Const(0, 4),                                       # addr_offset
                        sop, Const(0, 1), Const(0, 4),                     # is_sop[1:0], sop ptrs
                        eop, Const(0, 1), eop_ptr, Const(0, 4),            # is_eop[1:0], eop ptrs
                        Const(0, 1), Const(0, 24),                         # discontinue, tph
                        seq, Const(0, 6), Const(0, 64))                    # seq_num0/1, parity
                assert len(t) == 137, len(t)
                return t

            with m.Switch(state):
                with m.Case(S.L):
                    m.d.comb += self.req.ready.eq(out_free)
                    with m.If(self.req.valid & out_free):
                        m.d.sync += [ax.tvalid.eq(1), ax.tdata.eq(Cat(head, q[0], q[1], q[2]))]
                        with m.If(p.cursor):
                            m.d.sync += [ax.tkeep.eq(keep(4 + CURSOR_DWORDS)), ax.tlast.eq(1),
                                         ax.tuser.eq(tuser512(1, 1, Const(3 + CURSOR_DWORDS, 4)))]
                        with m.Else():
                            m.d.sync += [ax.tkeep.eq(keep(16)), ax.tlast.eq(0), carry.eq(q[3]),
                                         ax.tuser.eq(tuser512(p.first, 0, Const(0, 4))),
                                         state.eq(Mux(p.last, S.T, S.L))]
                with m.Case(S.T):
                    with m.If(out_free):
                        m.d.sync += [ax.tvalid.eq(1), ax.tdata.eq(carry), ax.tkeep.eq(keep(4)),
                                     ax.tlast.eq(1), ax.tuser.eq(tuser512(0, 1, Const(3, 4))),
                                     state.eq(S.L)]
            m.d.comb += self.busy.eq(ax.tvalid | (state != S.L) | outstanding | just_sent)
        m.d.comb += self.tlps.eq(tlps)
        return m


def _first_off(be):
    """Byte offset of the first enabled byte in a dword (0 when none)."""
    return Array([Const(v, 2) for v in [0, 0, 1, 0, 2, 0, 1, 0, 3, 0, 1, 0, 2, 0, 1, 0]])[be]


def _last_end(be):
    """1 + index of the last enabled byte in a dword (0 when none)."""
    return Array([Const(v, 3) for v in [0, 1, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 4, 4, 4, 4]])[be]


class UspCompleter(wiring.Component):
    """BAR0 accesses from the UltraScale+ CQ interface to the register block, completions on CC.

    Parameters
    ----------
    width : int
        Datapath bits, 256 or 512.

    Members
    -------
    cq : In(AxiStreamSignature(width, TUSER[width]["cq"]))
        Requests from the host (``m_axis_cq_*``).
    cc : Out(AxiStreamSignature(width, TUSER[width]["cc"]))
        Completions (``s_axis_cc_*``).
    reg_req : Out(stream.Signature(REG_REQ))
        Dword accesses to the register block.
    reg_resp : In(stream.Signature(REG_RESP))
        Read data from the register block.
    bad : Out(1)
        Pulse: a request refused here (Unsupported Request completion, or a write dropped).
    busy : Out(1)
        A request is being taken in, executed or answered (a completion not yet taken by CC).
    """

    def __init__(self, width: int = 256):
        _check_width(width)
        self._w = width
        tu = TUSER[width]
        super().__init__({
            "cq": In(AxiStreamSignature(width, tu["cq"])),
            "cc": Out(AxiStreamSignature(width, tu["cc"])),
            "reg_req": Out(stream.Signature(REG_REQ)),
            "reg_resp": In(stream.Signature(REG_RESP)),
            "bad": Out(1),
            "busy": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        W = self._w
        d = self.cq.tdata

        class S(enum.Enum, shape=3):
            IDLE = 0
            DRAIN = 1
            ISSUE = 2
            WAIT = 3
            CPL = 4
            DECODE = 5

        state = Signal(S)
        addr = Signal(12)
        ndw = Signal(11)
        typ = Signal(4)
        rid = Signal(16)
        tag = Signal(8)
        tc = Signal(3)
        attr = Signal(3)
        fbe = Signal(4)
        lbe = Signal(4)
        wdata = Signal(64)
        rdata = Signal(64)
        action = Signal(2)          # 0 drop, 1 read, 2 write, 3 unsupported request
        READ, WRITE, UR, DROP = 1, 2, 3, 0

        # The SOP beat's fields are latched first and classified in the next cycle (DECODE),
        # so no decision hangs directly off the CQ input.
        bar_id = Signal(3)
        c_typ = typ
        c_ndw = ndw
        c_addr = addr
        c_bar = bar_id
        c_fbe = fbe
        c_lbe = lbe
        size_ok = Signal()
        ndw1 = Signal()              # dword count 1 / 2, flagged when the SOP beat is latched
        ndw2 = Signal()
        m.d.comb += size_ok.eq(ndw1 | (ndw2 & ~c_addr[2]))
        c_action = Signal(2)
        # Type, BAR and byte-enable checks flagged when the SOP beat is latched (registers),
        # so DECODE combines a handful of flags.
        nonposted = Signal()
        is_rd = Signal()
        is_wr = Signal()
        bar0_hit = Signal()
        be_ok = Signal()
        with m.If((is_rd) & size_ok & bar0_hit):
            m.d.comb += c_action.eq(READ)
        with m.Elif(is_wr & size_ok & bar0_hit & be_ok):
            m.d.comb += c_action.eq(WRITE)
        with m.Elif(nonposted):
            m.d.comb += c_action.eq(UR)
        with m.Else():
            m.d.comb += c_action.eq(DROP)

        m.d.comb += [self.cq.tready.eq(state.as_value().matches(S.IDLE, S.DRAIN)),
                     self.busy.eq((state != S.IDLE) | self.cc.tvalid)]
        beat = Signal()
        m.d.comb += beat.eq(self.cq.tvalid & self.cq.tready)

        def after_request(act):
            with m.Switch(act):
                with m.Case(READ, WRITE):
                    m.d.sync += state.eq(S.ISSUE)
                with m.Case(UR):
                    m.d.sync += state.eq(S.CPL)
                    m.d.comb += self.bad.eq(1)
                with m.Default():
                    m.d.sync += state.eq(S.IDLE)
                    m.d.comb += self.bad.eq(1)

        m.d.comb += [
            self.reg_req.payload.dw.eq(addr[2:12]),
            self.reg_req.payload.write.eq(action == WRITE),
            self.reg_req.payload.two.eq(ndw2),
            self.reg_req.payload.wdata.eq(wdata),
        ]
        with m.If(self.cc.tready):
            m.d.sync += self.cc.tvalid.eq(0)

        with m.Switch(state):
            with m.Case(S.IDLE):
                with m.If(beat):
                    m.d.sync += [
                        addr.eq(d[0:12]), ndw.eq(d[64:75]), typ.eq(d[75:79]), rid.eq(d[80:96]),
                        tag.eq(d[96:104]), bar_id.eq(d[112:115]), tc.eq(d[121:124]),
                        attr.eq(d[124:127]), fbe.eq(self.cq.tuser[0:4]),
                        lbe.eq(self.cq.tuser[4:8] if W == 256 else self.cq.tuser[8:12]),
                        wdata.eq(d[128:192]), ndw1.eq(d[64:75] == 1), ndw2.eq(d[64:75] == 2),
                        is_rd.eq(d[75:79] == 0), is_wr.eq(d[75:79] == 1),
                        nonposted.eq((d[75:79] < 8) & (d[75:79] != 1)), bar0_hit.eq(d[112:115] == 0),
                        be_ok.eq((self.cq.tuser[0:4] == 0xF)
                                 & ((self.cq.tuser[4:8] if W == 256 else self.cq.tuser[8:12])
                                    == Mux(d[64:75] == 1, 0, 0xF))),
                        state.eq(Mux(self.cq.tlast, S.DECODE, S.DRAIN)),
                    ]
            with m.Case(S.DRAIN):
                with m.If(beat & self.cq.tlast):
                    m.d.sync += state.eq(S.DECODE)
            with m.Case(S.DECODE):
                m.d.sync += action.eq(c_action)
                after_request(c_action)
            with m.Case(S.ISSUE):
                m.d.comb += self.reg_req.valid.eq(1)
                with m.If(self.reg_req.ready):
                    m.d.sync += state.eq(Mux(action == READ, S.WAIT, S.IDLE))
            with m.Case(S.WAIT):
                m.d.comb += self.reg_resp.ready.eq(1)
                with m.If(self.reg_resp.valid):
                    m.d.sync += [rdata.eq(self.reg_resp.payload.rdata), state.eq(S.CPL)]
            with m.Case(S.CPL):
                with m.If(~self.cc.tvalid | self.cc.tready):
                    desc, keep, tuser = _completion(m, W, action == READ, ndw, ndw1, addr, fbe, lbe,
                                                    rid, tag, tc, attr)
                    m.d.sync += [
                        self.cc.tvalid.eq(1), self.cc.tdata.eq(Cat(desc, rdata)), self.cc.tkeep.eq(keep),
                        self.cc.tlast.eq(1), self.cc.tuser.eq(tuser), state.eq(S.IDLE),
                    ]
        return m


def _completion(m, W, ok, ndw, ndw1, addr, fbe, lbe, rid, tag, tc, attr):
    """The CC beat of a completion: 96-bit descriptor, tkeep and tuser. ``ok``: successful with
    data (the read), else an Unsupported Request without data."""
    cdw = Signal(11)
    bc = Signal(13)
    lower = Signal(7)
    m.d.comb += [
        cdw.eq(Mux(ok, ndw, 0)),
        lower.eq(Cat(Mux(ok, _first_off(fbe), 0), addr[2:7])),
    ]
    with m.If(~ok):
        m.d.comb += bc.eq(4)
    with m.Elif(ndw1):
        m.d.comb += bc.eq(Mux(fbe == 0, 1, _last_end(fbe) - _first_off(fbe)))
    with m.Else():
        m.d.comb += bc.eq(4 - _first_off(fbe) + _last_end(lbe))
    desc = Cat(lower, Const(0, 1), Const(0, 2), Const(0, 6), bc, Const(0, 1), Const(0, 2),
               cdw, Mux(ok, Const(0, 3), Const(1, 3)),
               Const(0, 1), Const(0, 1),
               rid, tag, Const(0, 16), Const(0, 1), tc, attr, Const(0, 1))
    assert len(desc) == 96, len(desc)
    ndata = Mux(ok, ndw, 0)
    keep_n = Signal(4)
    m.d.comb += keep_n.eq(3 + ndata)
    keep = Signal(W // 32)
    m.d.comb += keep.eq((Const(1, W // 32 + 1) << keep_n) - 1)
    if W == 256:
        tuser = Const(0, 33)
    else:
        tuser = Cat(Const(1, 2), Const(0, 4), Const(1, 2), (keep_n - 1)[:4], Const(0, 4),
                    Const(0, 1), Const(0, 64))
        assert len(tuser) == 81, len(tuser)
    return desc, keep, tuser
