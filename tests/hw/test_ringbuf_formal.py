"""SymbiYosys proofs (k-induction, yices) of the ring's invariants and data integrity.

The properties live in ``RingBuffer._formal`` (hw/ringbuf.py): fill <= depth, sequences
leave in order without gap or repeat (an arbitrary tracked sequence leaves at position
consumed == s with its payload), no slot is overwritten before it is taken, no output
when empty. A deliberately false property must fail with a counterexample, so a
vacuous setup (e.g. assertions dropped on export) cannot pass silently.
"""
import pytest
from amaranth.asserts import AnySeq
from amaranth.hdl import Assert, Module
from amaranth.lib import data, wiring

from ringgate.hw.ringbuf import RingBuffer
from ringgate.contracts.entry import ENTRY
from ringgate.sim.formal import run_sby

SMALL = data.StructLayout({"seq": 64, "tag": 8})


@pytest.mark.parametrize("bypass", [True, False])
def test_prove_depth16_small_entry(tmp_path, bypass):
    r = run_sby(RingBuffer(16, SMALL, bypass=bypass), "ring16", mode="prove", depth=4, workdir=tmp_path)
    assert r.passed, r.log[-4000:]


@pytest.mark.slow
def test_prove_depth1024_full_entry(tmp_path):
    r = run_sby(RingBuffer(1024, ENTRY.layout()), "ring1024", mode="prove", depth=4, workdir=tmp_path)
    assert r.passed, r.log[-4000:]


class NeverFull(wiring.Component):
    """Claims the ring can never be full, which random stimulus disproves in depth + 1 steps."""

    def __init__(self):
        self.ring = RingBuffer(16, SMALL)
        super().__init__({})

    def elaborate(self, platform):
        m = Module()
        m.submodules.ring = ring = self.ring
        # Unconnected inputs of a submodule would hold their reset value: drive them freely.
        m.d.comb += [ring.i.valid.eq(AnySeq(1)), ring.i.payload.eq(AnySeq(SMALL.size)),
                     ring.o.ready.eq(AnySeq(1))]
        m.d.comb += Assert(ring.fill < 16)
        return m


def test_false_property_yields_counterexample(tmp_path):
    r = run_sby(NeverFull(), "neverfull", mode="bmc", depth=20, workdir=tmp_path)
    assert not r.passed
    assert "FAIL" in r.log
    cex = r.counterexample()
    assert cex is not None and cex.stat().st_size > 0


CLAIM_LAYOUT = data.StructLayout({"seq": 64, "a": 32, "b": 32})


@pytest.mark.slow
def test_prove_claim_publish_abort(tmp_path):
    """Claim producer: writes only into free slots, exact room, and what leaves at an arbitrary
    sequence is what the publishing claim wrote: nothing of an aborted claim is ever published."""
    ring = RingBuffer(16, CLAIM_LAYOUT, producer="claim", max_claim=4, lanes=4)
    r = run_sby(ring, "claim16", mode="prove", depth=4, workdir=tmp_path)
    assert r.passed, r.log[-4000:]
