"""The DMA writer's proof harness (sim/dma_proof.py): its properties hold in every reachable
state (k-induction, unbounded), the states they matter in are reached (covers), and wrong
claims are refuted (so the proof is not vacuous).

The harness runs for fixed configurations (see docs/pcie.md "Tests" for why those and what
they cover); every other input is free, every cycle, including the synchronous reset.
"""
import re

import pytest

from ringgate.sim.dma_proof import BROKEN, DmaProof
from ringgate.sim.formal import run_sby

# A two-page ring (the 4 KiB cut inside the ring and the wrap are different points), the
# largest TLP (MPS 1024 B, 16 entries), a batch limit that is not a power of two (TLPs
# start anywhere in a page), coalesced cursor writes; base and cursor above 4 GiB.
PROOF_CONFIG = dict(ring_base=0x7_0000_0000, ring_size=128, cursor_addr=0x1000,
                    batch_limit=15, cursor_interval=4, mps=3)
# The covers follow a scripted environment from reset. The cut needs 64 entries out (the
# first 4 KiB boundary), so it is first reached at step 75; the wrap uses a 16-entry ring
# (reached at step 30) and a cursor interval of 3 (the cursor write after it, step 40).
# Depth and skip leave a few steps of slack either side.
CUT_COVER = dict(PROOF_CONFIG)
WRAP_COVER = dict(PROOF_CONFIG, ring_size=16, cursor_interval=3)
# The guards: a 2-entry ring at MPS 128 B, so every wrong claim is refuted in the first TLP.
GUARD_CONFIG = dict(ring_base=0x7_0000_0000, ring_size=2, cursor_addr=0x1000,
                    batch_limit=16, cursor_interval=1, mps=0)
# The invariants are 1-inductive: one step from any state that satisfies them keeps them.
PROOF_DEPTH = 1
GUARD_DEPTH = 14


@pytest.mark.slow
def test_dma_writer_k_induction(tmp_path):
    """Every property holds in every state reachable from reset, by any reset, command,
    doorbell, bus-master, lost-TLP, back-pressure and arrival sequence: the base case
    holds at reset and the invariants are preserved by every step (no depth bound)."""
    r = run_sby(DmaProof(PROOF_CONFIG), "dma_proof", mode="prove", depth=PROOF_DEPTH,
                workdir=tmp_path, timeout_s=900)
    assert r.passed, r.log[-3000:]
    assert "Temporal induction successful" in r.log


@pytest.mark.slow
@pytest.mark.parametrize("covers,config,depth,skip", [
    (("cut",), CUT_COVER, 80, 70),
    (("wrap", "cursor"), WRAP_COVER, 44, 26),
])
def test_dma_writer_covers(tmp_path, covers, config, depth, skip):
    """The states the properties are about are reachable: a TLP cut at a 4 KiB boundary
    inside the ring, a TLP at the ring's base after one ending at its end, a cursor write
    after the wrap (sby fails when a cover is not reached)."""
    name = "_".join(covers)
    r = run_sby(DmaProof(config, covers=covers), f"dma_cover_{name}", mode="cover", depth=depth, skip=skip,
                workdir=tmp_path, timeout_s=900)
    assert r.passed, r.log[-3000:]
    assert len(re.findall(r"summary: +reached cover statement", r.log)) == len(covers)


@pytest.mark.slow
def test_dma_proof_refutes_wrong_claims(tmp_path):
    """Each wrong bound or property yields a real counterexample from reset (not a vacuous
    pass): all of them planted at once, the solver carrying on past each failure, and each
    one's own assertion must fail."""
    proof = DmaProof(GUARD_CONFIG, broken=BROKEN)
    r = run_sby(proof, "dma_broken", mode="bmc", depth=GUARD_DEPTH, engine="smtbmc --keep-going yices",
                workdir=tmp_path, timeout_s=600)
    assert not r.passed and r.counterexample() is not None
    failed = set(re.findall(r"Assert failed in \S+: \S+dma_proof\.py:(\d+)", r.log))
    assert failed == {str(line) for line in proof.claim_lines.values()}, (failed, proof.claim_lines)
