"""Ones' complement sums for the IPv4 header and UDP checksums, four 16-bit words per beat."""

from amaranth.hdl import Cat, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

__all__ = ["OnesSum", "be_words"]


def be_words(beat, keep):
    """The four big-endian 16-bit words of a 64-bit beat (lane 0 is the first byte), masked by byte lanes."""
    lanes = [beat[8 * i:8 * i + 8] & keep[i].replicate(8) for i in range(8)]
    return [Cat(lanes[2 * j + 1], lanes[2 * j]) for j in range(4)]


class OnesSum(wiring.Component):
    """Running sum of a frame's 16-bit words, two pipeline stages deep, checked against 0xFFFF.

    Stage A adds the four words of a beat pairwise into two partial sums; stage B adds them into a
    32-bit accumulator, which ``start`` restarts (with ``init``). A word can be counted twice
    (``double``, for the UDP length, which the pseudo header repeats): in ones' complement
    arithmetic ``x + x`` is ``x`` rotated left by one bit, so it takes no extra operand. Two cycles after the last
    ``add``, ``ok`` says whether the ones' complement sum is 0xFFFF: with the accumulator's halves
    ``hi`` and ``lo``, the folded sum is 0xFFFF exactly when ``lo == ~hi`` (``hi + lo == 0xFFFF``)
    or both are 0xFFFF (``hi + lo == 0x1FFFE``): two comparisons, no adder in the check. A frame
    of at most 65535 bytes cannot carry the accumulator out of 32 bits.

    Members
    -------
    beat : In(64)
        The data beat (lane 0 first).
    keep : In(8)
        Lanes of ``beat`` that belong to the sum.
    add : In(1)
        Add ``beat`` (masked by ``keep``) and ``extra``.
    start : In(1)
        With ``add``: this beat starts a new sum (from ``init``).
    init : In(16)
        Constant part of the sum.
    double : In(4)
        Words of this beat (0 = lanes 0-1) to count twice.
    ok : Out(1)
        The sum is 0xFFFF (valid two cycles after the last ``add``).
    """

    beat: In(64)
    keep: In(8)
    add: In(1)
    start: In(1)
    init: In(16)
    double: In(4)
    ok: Out(1)

    def elaborate(self, platform):
        m = Module()
        w = [Mux(self.double[j], Cat(x[15], x[:15]), x) for j, x in enumerate(be_words(self.beat, self.keep))]
        p, q = Signal(17), Signal(17)
        a_valid, a_start = Signal(), Signal()
        a_init = Signal(16)
        m.d.sync += [p.eq(w[0] + w[1]), q.eq(w[2] + w[3]),
                     a_valid.eq(self.add), a_start.eq(self.start), a_init.eq(self.init)]
        acc = Signal(32)
        with m.If(a_valid):
            with m.If(a_start):
                m.d.sync += acc.eq(a_init + p + q)
            with m.Else():
                m.d.sync += acc.eq(acc + p + q)
        hi, lo = acc[16:], acc[:16]
        m.d.comb += self.ok.eq((lo == ~hi) | (lo.all() & hi.all()))
        return m
