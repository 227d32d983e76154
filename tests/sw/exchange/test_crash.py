"""SIGKILL an engine process under load: everything it acknowledged must survive the restart."""
from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ringgate.sw.exchange import Exchange, FsyncPolicy

from .conftest import check_invariants
from .streams import batches

CHILD = "tests.sw.exchange.crash_child"
REPO = Path(__file__).resolve().parents[3]


def reference_hash(seed: int, upto: int) -> str:
    """The same batches, the same clock, in memory, up to sequence ``upto``."""
    ticks = iter(range(1, 10**9))
    ex = Exchange.in_memory(clock=lambda: next(ticks))
    for batch in batches(seed):
        if ex.seq + len(batch) > upto:
            assert ex.seq == upto, "recovered state ends inside a batch"
            break
        ex.submit_many(batch)
    return ex.state_hash()


@pytest.mark.parametrize("policy, snapshots", [(FsyncPolicy.BATCH, "sync"), (FsyncPolicy.NEVER, "sync"),
                                               (FsyncPolicy.BATCH, "background")])
def test_sigkill_loses_nothing_acknowledged(tmp_path, policy, snapshots):
    """With background snapshots the kill may land while a forked child is still writing one;
    the orphan finishes or dies on its own, and recovery must not depend on it."""
    seed = 21
    child = subprocess.Popen([sys.executable, "-m", CHILD, str(tmp_path), str(seed), policy.value, snapshots],
                             stdout=subprocess.PIPE, text=True, cwd=REPO)
    acked = 0
    deadline = time.monotonic() + 20
    try:
        # wait for load (a few snapshots' worth), then kill without warning
        while acked < 4000 and time.monotonic() < deadline:
            line = child.stdout.readline()
            if not line:
                break
            acked = int(line)
        child.send_signal(signal.SIGKILL)
        # acks already in the pipe were given before the kill: they count too
        for line in child.stdout:
            acked = max(acked, int(line))
    finally:
        child.kill()
        child.wait(timeout=10)
        child.stdout.close()
    assert child.returncode == -signal.SIGKILL
    assert acked >= 4000, "child did not get under load"
    ex = Exchange.open(tmp_path)
    try:
        assert ex.seq >= acked
        check_invariants(ex)
        got = ex.state_hash()
        seq = ex.seq
    finally:
        ex.close()
    assert got == reference_hash(seed, seq)
