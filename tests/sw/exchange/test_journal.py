"""Journal, snapshots and recovery: replay gives the same state hash; a torn tail is cut, never misread."""
from __future__ import annotations

import os
import threading

import pytest

from ringgate.sw.exchange import (Engine, Exchange, ExchangeService, FsyncPolicy, JournalCorrupt, state_hash)
from ringgate.sw.exchange.journal import FRAME_HEADER, list_segments, list_snapshots, scan_segment

from .conftest import check_invariants, fund_commands, setup_commands
from .streams import random_commands


def counter_clock():
    n = iter(range(1, 10**9))
    return lambda: next(n)


def populate(ex, seed=1, n=600, batch=25):
    assert all(r.ok for r in ex.submit_many(setup_commands() + fund_commands()))
    cmds = random_commands(seed, n)
    for i in range(0, n, batch):
        ex.submit_many(cmds[i:i + batch])


def reopen_hash(path):
    ex = Exchange.open(path)
    try:
        check_invariants(ex)
        return ex.seq, ex.state_hash()
    finally:
        ex.close()


def test_reopen_reproduces_state(tmp_path):
    ex = Exchange.open(tmp_path, clock=counter_clock())
    populate(ex)
    want = (ex.seq, ex.state_hash())
    ex.close()
    assert reopen_hash(tmp_path) == want


def test_replay_equals_in_memory_run(tmp_path):
    """Determinism: the journal holds (timestamp, commands); applying them to a fresh engine gives the same hash."""
    ex = Exchange.open(tmp_path, clock=counter_clock())
    populate(ex, seed=3)
    want = ex.state_hash()
    ex.close()
    e = Engine()
    for first, ts, cmds in scan_segment(list_segments(tmp_path)[0][1])[0]:
        for k, c in enumerate(cmds):
            e.apply(first + k, ts, c)
    assert state_hash(e) == want


def test_snapshot_plus_journal(tmp_path):
    ex = Exchange.open(tmp_path, clock=counter_clock(), snapshot_every=200)
    populate(ex, seed=4, n=900)
    want = (ex.seq, ex.state_hash())
    ex.close()
    snaps = list_snapshots(tmp_path)
    assert 1 <= len(snaps) <= 2                      # pruned to keep_snapshots
    assert list_segments(tmp_path)[0][0] <= snaps[0][0] + 1   # segments still cover the oldest snapshot
    assert reopen_hash(tmp_path) == want


def test_damaged_snapshot_falls_back_to_the_older_one(tmp_path):
    ex = Exchange.open(tmp_path, clock=counter_clock())
    populate(ex, seed=5, n=200)
    ex.snapshot()
    populate_more = random_commands(6, 200)
    ex.submit_many(populate_more[:100])
    ex.snapshot()
    ex.submit_many(populate_more[100:])
    want = (ex.seq, ex.state_hash())
    ex.close()
    newest = list_snapshots(tmp_path)[-1][1]
    data = bytearray(newest.read_bytes())
    data[len(data) // 2] ^= 0xFF
    newest.write_bytes(bytes(data))
    assert reopen_hash(tmp_path) == want


def _frame_offsets(path):
    data = path.read_bytes()
    pos, offs = 0, []
    while pos < len(data):
        _, length, _, _, _ = FRAME_HEADER.unpack_from(data, pos)
        offs.append(pos)
        pos += FRAME_HEADER.size + length
    return offs, len(data)


@pytest.mark.parametrize("cut", [1, FRAME_HEADER.size - 1, FRAME_HEADER.size + 1, "half", "last-1"])
def test_torn_tail_is_cut(tmp_path, cut):
    ex = Exchange.open(tmp_path, clock=counter_clock())
    populate(ex, seed=7, n=300, batch=30)
    ex.close()
    (_, seg), = list_segments(tmp_path)
    offs, size = _frame_offsets(seg)
    last = offs[-1]
    n = {"half": (size - last) // 2, "last-1": size - last - 1}.get(cut, cut)
    os.truncate(seg, last + n)
    # the expected state: everything but the last frame
    ex2 = Exchange.in_memory()
    for first, ts, cmds in scan_segment(seg)[0]:
        for k, c in enumerate(cmds):
            ex2.engine.apply(first + k, ts, c)
    want = (ex2.seq, ex2.state_hash())
    ex3 = Exchange.open(tmp_path, clock=counter_clock())
    assert (ex3.seq, ex3.state_hash()) == want
    assert seg.stat().st_size == last                    # the torn bytes are gone
    more = random_commands(8, 50)
    ex3.submit_many(more)
    want = (ex3.seq, ex3.state_hash())
    ex3.close()
    assert reopen_hash(tmp_path) == want                 # new frames after the cut read back fine


def test_flipped_bit_in_last_frame_is_detected(tmp_path):
    ex = Exchange.open(tmp_path)
    populate(ex, seed=9, n=100, batch=50)
    ex.close()
    (_, seg), = list_segments(tmp_path)
    offs, size = _frame_offsets(seg)
    data = bytearray(seg.read_bytes())
    data[size - 3] ^= 0x01
    seg.write_bytes(bytes(data))
    frames, good, _ = scan_segment(seg)
    assert good == offs[-1] and len(frames) == len(offs) - 1


def _three_segments(path):
    ex = Exchange.open(path, keep_snapshots=2)
    populate(ex, seed=10, n=100)
    ex.snapshot()
    ex.submit_many(random_commands(11, 20))
    ex.snapshot()
    ex.submit_many(random_commands(12, 20))
    want = (ex.seq, ex.state_hash())
    ex.close()
    return want


def test_bad_frame_in_sealed_segment_is_an_error(tmp_path):
    want = _three_segments(tmp_path)
    snaps = list_snapshots(tmp_path)
    assert len(snaps) == 2
    snaps[-1][1].unlink()                              # recovery must now replay the sealed middle segment
    assert reopen_hash(tmp_path) == want
    snaps[-1][1].unlink(missing_ok=True)
    segs = list_segments(tmp_path)
    assert len(segs) == 2
    data = bytearray(segs[0][1].read_bytes())
    data[FRAME_HEADER.size + 3] ^= 0xFF
    segs[0][1].write_bytes(bytes(data))
    with pytest.raises(JournalCorrupt, match="sealed"):
        Exchange.open(tmp_path)


def test_missing_journal_is_an_error_not_an_empty_state(tmp_path):
    _three_segments(tmp_path)
    for _, p in list_snapshots(tmp_path):
        p.unlink()                                     # the pruned first segment is no longer covered
    with pytest.raises(JournalCorrupt, match="missing"):
        Exchange.open(tmp_path)


@pytest.mark.parametrize("policy, expect", [(FsyncPolicy.BATCH, 4), (FsyncPolicy.NEVER, 0)])
def test_fsync_policy(tmp_path, policy, expect):
    ex = Exchange.open(tmp_path, fsync=policy)
    for c in setup_commands()[:4]:
        ex.submit(c)
    assert ex.journal.syncs == expect
    ex.close()


def test_interval_policy_syncs_at_most_once_per_interval(tmp_path):
    ex = Exchange.open(tmp_path, fsync=FsyncPolicy.INTERVAL, fsync_interval=3600)
    for c in setup_commands():
        ex.submit(c)
    assert ex.journal.syncs == 0
    ex.journal.interval = 0
    ex.submit(fund_commands()[0])
    assert ex.journal.syncs == 1
    ex.close()


def test_journal_failure_stops_the_sequencer(tmp_path):
    ex = Exchange.open(tmp_path)
    ex.submit(setup_commands()[0])
    os.close(ex.journal.fd)                            # the disk goes away
    with pytest.raises(OSError):
        ex.submit(setup_commands()[1])
    with pytest.raises(RuntimeError):
        ex.submit(setup_commands()[1])
    assert ex.seq == 1
    ex.journal.fd = -1


def test_service_sequences_concurrent_producers(tmp_path):
    ex = Exchange.open(tmp_path, clock=counter_clock())
    assert all(r.ok for r in ex.submit_many(setup_commands() + fund_commands()))
    seen = []
    ex.subscribe(lambda r: seen.append(r.seq))
    svc = ExchangeService(ex, max_batch=64)
    futs = []
    lock = threading.Lock()

    def producer(seed):
        fs = svc.submit_many(random_commands(seed, 300))
        with lock:
            futs.extend(fs)

    threads = [threading.Thread(target=producer, args=(s,)) for s in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    results = [f.result(timeout=30) for f in futs]
    svc.close()
    start = len(setup_commands() + fund_commands())
    assert sorted(r.seq for r in results) == list(range(start + 1, start + 1201))
    assert seen == sorted(seen) and len(seen) == 1200
    want = (ex.seq, ex.state_hash())
    ex.close()
    assert reopen_hash(tmp_path) == want


def test_service_rejects_non_commands(tmp_path):
    svc = ExchangeService(Exchange.in_memory())
    with pytest.raises(TypeError):
        svc.submit("PLACE").result(timeout=5)
    svc.close()
    with pytest.raises(TypeError):
        Exchange.in_memory().submit(object())


def test_command_beyond_64_bits_is_refused_without_harm(tmp_path):
    from ringgate.sw.exchange import AddUser
    ex = Exchange.open(tmp_path)
    ex.submit(setup_commands()[0])
    with pytest.raises((OverflowError, ValueError)):
        ex.submit_many([AddUser(5), AddUser(2**64)])
    assert ex.seq == 1 and ex.failed is None
    assert ex.submit(AddUser(5)).ok
    svc = ExchangeService(ex)
    bad, good = svc.submit(AddUser(2**70)), svc.submit(AddUser(6))
    with pytest.raises(ValueError):
        bad.result(timeout=5)
    assert good.result(timeout=5).ok
    svc.close()
    want = (ex.seq, ex.state_hash())
    ex.close()
    assert reopen_hash(tmp_path) == want


def test_supply_at_the_64_bit_limit_survives_a_snapshot(tmp_path):
    """A currency's supply (all deposits) is capped at 2**63 - 1, so no balance, hold or fee total
    can pass it through settlement; a snapshot at the limit restores exactly."""
    from ringgate.sw.exchange import AddUser, AdjustBalance
    ex = Exchange.open(tmp_path)
    ex.submit_many(setup_commands())
    for uid in range(1, 4):
        ex.submit(AddUser(uid))
    assert ex.submit(AdjustBalance(1, 2, 2**63 - 2, 1)).ok
    assert ex.submit(AdjustBalance(2, 2, 2, 1)).result_code == -7003      # supply would pass 2**63 - 1
    assert ex.submit(AdjustBalance(2, 2, 1, 2)).ok
    assert ex.submit(AdjustBalance(1, 2, -5, 3)).ok                       # a withdrawal makes room
    assert ex.submit(AdjustBalance(3, 2, 5, 1)).ok
    assert ex.total_balance().balanced
    ex.snapshot()
    want = (ex.seq, ex.state_hash())
    ex.close()
    assert reopen_hash(tmp_path) == want


def test_background_snapshot(tmp_path):
    ex = Exchange.open(tmp_path, clock=counter_clock(), background_snapshots=True, snapshot_every=150)
    populate(ex, seed=13, n=700)
    ex.snapshot()                        # waits for the previous child, forks another
    ex.submit_many(random_commands(14, 100))
    want = (ex.seq, ex.state_hash())
    ex.close()                           # reaps the child
    assert ex.snapshot_failures == 0
    snaps = list_snapshots(tmp_path)
    assert len(snaps) == 2 and snaps[-1][0] == want[0] - 100
    assert reopen_hash(tmp_path) == want


def test_failing_subscriber_does_not_fail_the_submit(tmp_path):
    ex = Exchange.open(tmp_path)
    got = []

    def bad(r):
        raise RuntimeError("listener bug")

    ex.subscribe(bad)
    unsubscribe = ex.subscribe(got.append)
    results = ex.submit_many(setup_commands()[:2])
    assert [r.ok for r in results] == [True, True] and ex.subscriber_errors == 1
    assert [r.seq for r in got] == [1, 2]
    unsubscribe()
    ex.submit(setup_commands()[2])
    assert len(got) == 2
    ex.close()


def test_recovery_from_a_chosen_snapshot_feeds_every_replayed_result_to_an_observer(tmp_path):
    """A consumer of results (the gateway's history) saved at snapshot s is rebuilt by replaying the
    results after s: recovery from exactly s hands them over in sequence order, and ends at the
    same state as a plain recovery."""
    ex = Exchange.open(tmp_path, clock=counter_clock())
    taken = []
    ex.on_snapshot(taken.append)
    populate(ex, n=300)
    ex.snapshot()
    more = random_commands(9, 200)
    ex.submit_many(more[:100])
    ex.snapshot()
    ex.submit_many(more[100:])
    want = (ex.seq, ex.state_hash())
    ex.close()
    assert taken == [s for s, _ in list_snapshots(tmp_path)] and len(taken) == 2
    for start in (taken[0], taken[1]):
        seen = []
        ex = Exchange.open(tmp_path, snapshot_seq=start, observer=seen.extend)
        assert (ex.seq, ex.state_hash()) == want
        assert [r.seq for r in seen] == list(range(start + 1, want[0] + 1))
        ex.close()
    seen = []
    with pytest.raises(JournalCorrupt, match="missing or damaged"):
        Exchange.open(tmp_path, snapshot_seq=taken[0] + 1, observer=seen.extend)
    assert seen == []
