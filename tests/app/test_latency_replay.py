"""The real-time host replay: attribution of WebSocket frames to entries, the per-entry stamps and
the stages (with the coordinated-omission correction) on synthetic stamps, and short real runs of
the harness and of ``ringgate latency`` (three processes on two cores: device, host, client)."""
import json

import numpy as np
import pytest
from click.testing import CliRunner

from ringgate.app.latency.replay import (HostMeasurement, ReplayConfig, ReplayError, attribute_frames,
                                         entry_stamps, host_stages, make_plan, measure)
from ringgate.contracts.entry import ENTRY_DTYPE, Command
from ringgate.sw.gateway.ws import frame_text


def _entries(rows):
    e = np.zeros(len(rows), ENTRY_DTYPE)
    for i, (cmd, uid, oid) in enumerate(rows):
        e[i]["cmd"], e[i]["uid"], e[i]["order_id"] = cmd, uid, oid
    return e


def _upd(uid, oid, event="placed"):
    return {"topic": f"orders.{uid}", "type": "update", "data": {"orderId": oid, "event": event}}


def test_frames_are_attributed_to_the_entry_that_caused_them():
    P, C, M = Command.PLACE, Command.CANCEL, Command.MOVE
    entries = _entries([(P, 1, 10), (P, 2, 11), (C, 1, 10), (M, 2, 99), (P, 1, 12)])
    codes = np.array([100, 100, 100, -3002, 100])          # the move names an unknown order: refused
    frames = [_upd(1, 10),                                 # 0: entry 0 placed
              _upd(1, 10, "trade"),                        # 1: maker update caused by entry 1 ...
              _upd(2, 11, "trade"),                        # 2: ... then entry 1's own
              {"topic": "orders.1", "type": "snapshot", "data": []},
              _upd(1, 10, "cancelled"),                    # 4: entry 2
              _upd(1, 12)]                                 # 5: entry 4 (entry 3 changed nothing)
    assert attribute_frames(entries, codes, frames).tolist() == [0, 2, 4, -1, 5]
    # a place whose update never came: unattributed, and the scan does not run past later entries
    assert attribute_frames(entries, codes, frames[:1] + frames[4:]).tolist() == [0, -1, 1, -1, 2]


def _raw(n=6, warmup=1, stall_at=3):
    """Entries due every 10 us; the device writes each 1 us late; the consumer stalls for 50 us at
    entry ``stall_at`` and then takes the backlog in one batch."""
    due = np.arange(n, dtype=np.int64) * 10_000 + 1_000_000
    cursor = due + 1_000
    poll = cursor + 500
    poll[stall_at:stall_at + 2] = cursor[stall_at + 1] + 40_000
    entries = _entries([(Command.PLACE, 1, 100 + i) for i in range(n)])
    batches = []
    i = 0
    while i < n:
        k = 2 if i == stall_at else 1
        batches.append((k, poll[i], poll[i] + 200))
        i += k
    res = np.array([b[2] + 3_000 for b in batches for _ in range(b[0])])
    frames = [(int(t + 5_000), [frame_text(json.dumps(_upd(1, 100 + i)).encode())]) for i, t in enumerate(res)]
    msgs = [json.dumps({"type": "response"})] + [json.dumps(_upd(1, 100 + i)) for i in range(n)]
    recv = [0] + [t + 2_000 for t, _ in frames]
    return {"n": n, "warmup": warmup, "poll": "busy", "due_ns": due, "cursor_ns": cursor,
            "cursor_val": np.arange(1, n + 1), "batches": np.array(batches), "result_seq": np.arange(n),
            "result_code": np.full(n, 100), "result_ns": res, "written": frames,
            "client_t": np.array(recv), "client_m": msgs, "entries": entries}


def test_entry_stamps_and_stages_with_the_coordinated_omission_correction():
    raw = _raw()
    st = entry_stamps(raw)
    assert (st["callback"] - st["poll"]).tolist() == [200] * 6
    assert (st["written"] - st["result"]).tolist() == [5_000] * 6
    assert (st["received"] - st["written"]).tolist() == [2_000] * 6       # the reply before them is skipped
    stages = {s.name: s for s in host_stages(raw, st)}
    assert stages["due (open-loop schedule) -> cursor visible (device lateness)"].samples.tolist() == [1_000] * 5
    cb = stages["cursor visible -> consumer callback"].samples
    # entry 3 waited for the stall (cursor of entry 4 + 40 us); entry 4 came in the same batch
    assert cb.tolist() == [700, 700, 50_200, 40_200, 700]
    fixed = stages["cursor visible -> consumer callback (from due: corrected for coordinated omission)"].samples
    assert fixed.tolist() == [x + 1_000 for x in cb.tolist()]
    assert all(s.kind == "measured" and s.unit == "ns" for s in stages.values())


def test_entry_stamps_refuse_inconsistent_records():
    raw = _raw()
    raw["result_seq"] = raw["result_seq"][:-1]
    with pytest.raises(ReplayError, match="missing or out of sequence"):
        entry_stamps(raw)
    raw = _raw()
    raw["batches"] = raw["batches"][:-1]
    with pytest.raises(ReplayError, match="delivered 5 of 6"):
        entry_stamps(raw)
    raw = _raw()
    raw["batches"][0, 1] = 0                             # a poll before the cursor was written
    with pytest.raises(ReplayError, match="poll before cursor"):
        entry_stamps(raw)


@pytest.mark.parametrize("kw,msg", [({"orders": 0}, "orders"), ({"rate": 0}, "rate"), ({"burst": 0}, "burst"),
                                    ({"users": 300}, "users"), ({"host_ring": 1000}, "host ring"),
                                    ({"host_core": 99}, "host core"), ({"nice": -21}, "nice"),
                                    ({"switch_interval_us": 0}, "switch interval")])
def test_bad_replay_configs_are_refused(kw, msg):
    with pytest.raises(ValueError, match=msg):
        ReplayConfig(**kw).check()


def test_default_cores_are_this_process_cpus():
    import os

    cpus = sorted(os.sched_getaffinity(0))
    cfg = ReplayConfig()
    assert cfg.host_core == cpus[0] and cfg.device_core == (cpus[1] if len(cpus) > 1 else cpus[0])
    cfg.check()
    if len(cpus) > 1:
        assert ReplayConfig(host_core=cpus[1]).device_core == cpus[0]


def test_poll_mode_variants_are_checked_before_anything_starts(tmp_path):
    from ringgate.app.latency.replay import run_replay

    plan = make_plan(ReplayConfig(orders=10, users=2, resting=5))
    with pytest.raises(ValueError, match="variant is one of \\+inline, \\+loop"):
        run_replay(plan, "busy+turbo", workdir=tmp_path)
    assert not list(tmp_path.iterdir())


def test_plan_is_open_loop_in_bursts():
    p = make_plan(ReplayConfig(orders=200, rate=10_000, burst=4, users=8, resting=20))
    assert len(p.entries) == 220 and p.warmup == 20 and p.uids == list(range(1, 9))
    gaps = np.diff(p.due_ns)
    # 4 entries 1 ns apart, then 400 us to the next burst: 10,000 entries/s on average
    assert set(gaps[:3].tolist()) == {1} and abs(gaps[3] - (400_000 - 3)) <= 4
    assert p.due_ns[-1] == pytest.approx(219 / 10_000 * 1e9, rel=0.02)


@pytest.mark.slow
def test_replay_measures_every_entry_through_the_real_path(tmp_path):
    """Device, host and client processes for real: every measured entry reaches the engine, its own
    WebSocket update is written and received, the stamps are in order, both modes are measured."""
    cfg = ReplayConfig(orders=300, rate=2_000, users=8, resting=30)
    m = measure(cfg, ("busy", "adaptive"), 1, log=lambda s: None, workdir=tmp_path)
    assert [x["poll"] for x in m.modes] == ["busy", "adaptive"]
    for mode in m.modes:
        st = m.stamps[mode["poll"]]
        assert len(st["due"]) == 300 == mode["measured_entries"]
        assert (st["cursor"] >= st["due"] - 1_000_000).all() and (st["poll"] >= st["cursor"]).all()
        assert (st["callback"] >= st["poll"]).all() and (st["result"] >= st["callback"]).all()
        own = st["written"] >= 0
        assert own.sum() == mode["frames_attributed"] >= 250        # refused cancels/moves have no update
        assert (st["written"][own] >= st["result"][own]).all()
        assert mode["frames_received"] == mode["frames_attributed"]
        assert (st["received"][own] >= st["written"][own]).all()
        assert mode["cpu_us_per_entry"] > 0 and mode["device_held_ns"] == 0
        names = [s["name"] for s in mode["stages"]]
        assert "cursor visible -> engine result (from due: corrected for coordinated omission)" in names
        assert all(len(s["runs"]) == 1 for s in mode["stages"])
    paths = m.save(tmp_path / "out")
    back = HostMeasurement.load(tmp_path / "out")
    assert back.modes == json.loads(paths["json"].read_text())["modes"]
    assert np.array_equal(back.stamps["busy"]["result"], m.stamps["busy"]["result"])
    with pytest.raises(ReplayError, match="no host measurement"):
        HostMeasurement.load(tmp_path)


@pytest.mark.slow
def test_latency_command_writes_its_report(tmp_path):
    from ringgate.app.latency.cli import latency

    out = tmp_path / "lat"
    r = CliRunner().invoke(latency, ["--orders", "200", "--rate", "2000", "--burst", "4", "--users", "4",
                                     "--poll", "busy", "--repeat", "2", "--out", str(out)], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    for f in ("host.json", "host.npz", "report.html", "report.json", "summary.md"):
        assert (out / f).stat().st_size > 100, f
    doc = json.loads((out / "report.json").read_text())
    assert doc["host"]["config"]["burst"] == 4 and doc["host"]["modes"][0]["repeats"] == 2
    assert all(len(s["runs"]) == 2 for s in doc["host"]["modes"][0]["stages"])
    assert all(s["kind"] == "measured" for s in doc["stages"])
    for bad in ("turbo", "busy+turbo"):
        r = CliRunner().invoke(latency, ["--poll", bad, "--out", str(out)])
        assert r.exit_code == 2 and "not a poll mode" in r.output
