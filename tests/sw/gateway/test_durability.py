"""Acknowledgement only after durability, journal failure answered with 503, and a restart from
the journal directory that keeps symbols, keys and resting orders."""
from __future__ import annotations

import threading
import time

from .helpers import SYM, T, setup_market, start_env

from ringgate.sw.exchange import Exchange, FsyncPolicy, recover_engine
from ringgate.sw.gateway.client import Client


def open_ex(path):
    return lambda: Exchange.open(path, fsync=FsyncPolicy.BATCH)


def test_reply_only_after_journal_write(tmp_path):
    env, stop = start_env(open_ex(tmp_path), meta_dir=tmp_path)
    try:
        setup_market(env.admin)
        u = env.user()
        journal = env.gw.ex.journal
        real_write = journal.write
        durable_at = []

        def slow_write(frame):
            time.sleep(0.3)                      # a slow disk: the reply must wait for it
            real_write(frame)
            durable_at.append(time.monotonic())
        journal.write = slow_write
        st, b = u.post(f"{T}/symbols/{SYM}/trade/{u.uid}/orders", {"price": "100.00", "size": 2, "action": "BID"})
        replied = time.monotonic()
        assert st == 201 and durable_at and replied >= durable_at[0]
        oid = b["data"]["orderId"]
        # the acknowledged order is in the journal on disk: recovery (as after a crash) has it
        engine, _, _ = recover_engine(tmp_path)
        assert oid in engine.books[10].orders
        journal.write = real_write
    finally:
        stop()
        env.gw.ex.close()


def test_journal_failure_is_503_and_nothing_acknowledged(tmp_path):
    env, stop = start_env(open_ex(tmp_path), meta_dir=tmp_path)
    try:
        setup_market(env.admin)
        u = env.user()

        def broken(frame):
            raise OSError(28, "No space left on device")
        env.gw.ex.journal.write = broken
        seq = env.gw.ex.seq
        st, b = u.post(f"{T}/symbols/{SYM}/trade/{u.uid}/orders", {"price": "100.00", "size": 2, "action": "BID"})
        assert st == 503 and b["gatewayResultCode"] == 1020 and "No space" in b["description"]
        st, b = u.post(f"{T}/symbols/{SYM}/trade/{u.uid}/orders", {"price": "100.00", "size": 2, "action": "BID"})
        assert st == 503
        assert env.gw.ex.seq == seq                 # nothing was applied
        st, b = env.public.get(f"{T}/ping")         # reads still work
        assert st == 200
    finally:
        stop()


def test_restart_keeps_symbols_keys_and_orders(tmp_path):
    env, stop = start_env(open_ex(tmp_path), meta_dir=tmp_path)
    setup_market(env.admin)
    u = env.user()
    st, b = u.post(f"{T}/symbols/{SYM}/trade/{u.uid}/orders", {"price": "100.00", "size": 2, "action": "BID",
                                                                "userCookie": 42})
    oid = b["data"]["orderId"]
    admin_key = (env.admin.api_key, env.admin.secret)
    stop()
    env.gw.ex.close()

    holder = {}
    from ringgate.sw.gateway.app import Gateway, run_in_thread

    def make():
        holder["gw"] = Gateway(Exchange.open(tmp_path, fsync=FsyncPolicy.BATCH), meta_dir=tmp_path)
        return holder["gw"]
    gw, port, stop2 = run_in_thread(make)
    try:
        c = Client("127.0.0.1", port, u.api_key, u.secret)       # the user's key survived
        st, b = c.get(f"{T}/symbols/{SYM}/trade/{u.uid}/orders/{oid}")
        assert st == 200 and b["data"]["state"] == "ACTIVE" and b["data"]["userCookie"] == 42
        st, s = c.get(f"{T}/users/{u.uid}/state")
        assert [o["orderId"] for o in s["data"]["activeOrders"]] == [oid]
        st, b = c.post(f"{T}/symbols/{SYM}/trade/{u.uid}/orders", {"price": "101.00", "size": 1, "action": "BID"})
        assert st == 201 and b["data"]["orderId"] > oid             # no id reuse after restart
        st, b = c.delete(f"{T}/symbols/{SYM}/trade/{u.uid}/orders/{oid}")
        assert st == 200 and b["data"]["state"] == "CANCELLED"
        adm = Client("127.0.0.1", port, *admin_key)
        st, b = adm.post("/syncAdminApi/v1/users", {"uid": 31337})
        assert st == 201
        st, info = c.get(f"{T}/info")
        assert {s["symbolCode"] for s in info["data"]["symbols"]} == {SYM, "ETH_USDT"}
        st, b = c.post(f"{T}/symbols/ETH_USDT/trade/{u.uid}/orders", {"price": "60.00", "size": 1, "action": "BID"})
        assert st == 400 and b["gatewayResultCode"] == 1017      # price limits survived too
    finally:
        stop2()
        holder["gw"].ex.close()
    assert threading.active_count() < 50


def _histories(gw, uids):
    from ringgate.sw.gateway.views import order_view
    return {uid: [order_view(gw.meta, o) for o in gw.orders.user_history(uid)] for uid in uids}


def test_history_is_saved_with_every_snapshot_and_rebuilt_from_the_journal(tmp_path):
    """History snapshots land at the exchange's snapshot sequences; recovery rebuilds the same
    history from the newest pair, from an older pair when the newest history snapshot is missing
    (a crash between the two), and says so when none matches."""
    from ringgate.sw.exchange.journal import list_snapshots
    from ringgate.sw.gateway.persist import PREFIX, recover

    def start():
        ex, fo, note = recover(tmp_path, fsync=FsyncPolicy.NEVER, snapshot_every=25)
        env, stop = start_env(lambda: ex, meta_dir=tmp_path, history=fo)
        return env, stop, note

    env, stop, note = start()
    assert note == "history: rebuilt from seq 0 + 0 journaled commands"
    setup_market(env.admin)
    maker, taker = env.user(), env.user()
    for i in range(30):
        assert maker.post(f"{T}/symbols/{SYM}/trade/{maker.uid}/orders",
                          {"price": "100.00", "size": 2, "action": "ASK", "userCookie": i})[0] == 201
        assert taker.post(f"{T}/symbols/{SYM}/trade/{taker.uid}/orders",
                          {"price": "100.00", "size": 1 + i % 3, "action": "BID", "orderType": "IOC"})[0] == 201
    want = _histories(env.gw, (maker.uid, taker.uid))
    active = sorted(o.order_id for o in env.gw.orders.active.values())
    stop()
    env.gw.ex.close()
    ours = [s for s, _ in list_snapshots(tmp_path, PREFIX)]
    theirs = [s for s, _ in list_snapshots(tmp_path)]
    assert len(theirs) == 2 and ours[-2:] == theirs            # written at the same sequences, pruned alike
    assert len(want[taker.uid]) == 30 and all(o["deals"] for o in want[taker.uid])

    for drop, expect in ((None, theirs[1]), (theirs[1], theirs[0])):
        if drop is not None:
            (tmp_path / f"{PREFIX}-{drop:020d}.snap").unlink()
        env, stop, note = start()
        try:
            assert note.startswith(f"history: rebuilt from seq {expect} + ")
            assert _histories(env.gw, (maker.uid, taker.uid)) == want
            assert sorted(o.order_id for o in env.gw.orders.active.values()) == active
        finally:
            stop()
            env.gw.ex.close()
    (tmp_path / f"{PREFIX}-{theirs[0]:020d}.snap").unlink()
    env, stop, note = start()
    try:
        assert note.startswith("history: not recoverable before seq")
        assert sorted(o.order_id for o in env.gw.orders.active.values()) == active     # seeded from the engine
    finally:
        stop()
        env.gw.ex.close()
