"""SymbiYosys proofs of the ingress: the counter identity FRAMES = ACCEPTED + sum(DROP_*) in every
cycle (k-induction over the counters with free event inputs: every step moves FRAMES and exactly one
outcome counter by one, or nothing; all start at zero). That nothing of an aborted datagram is ever
published is the claim ring's proof (tests/hw/test_ringbuf_formal.py)."""
from ringgate.hw.ingress.counters import Counters
from ringgate.sim.formal import run_sby


def test_counter_identity(tmp_path):
    r = run_sby(Counters(), "ingress_counters", mode="prove", depth=2, workdir=tmp_path)
    assert r.passed, r.log[-4000:]
