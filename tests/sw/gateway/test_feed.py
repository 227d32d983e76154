"""The FPGA ring feed: synthetic ENTRY_DTYPE batches (what the driver will hand over) interleaved
with REST orders through the one sequencer; WebSocket clients see every event exactly once."""
from __future__ import annotations

import json
import random
import threading
import time

import numpy as np
import pytest
from websockets.sync.client import connect

from .helpers import SYM, T, setup_market, start_env

from ringgate.contracts.entry import ENTRY_DTYPE
from ringgate.sw.exchange import TradeEvent
from ringgate.sw.gateway.auth import sign
from ringgate.sw.gateway.feed import FeedError

SYM_ID = 10


def ring_batch(first_seq: int, rows: list[dict]) -> np.ndarray:
    a = np.zeros(len(rows), dtype=ENTRY_DTYPE)
    for i, r in enumerate(rows):
        a[i]["seq"] = first_seq + i
        for k, v in r.items():
            a[i][k] = v
    return a


def ws_client(port, admin):
    c = connect(f"ws://127.0.0.1:{port}/ws").__enter__()
    ts = int(time.time() * 1000)
    c.send(json.dumps({"op": "auth", "apiKey": admin.api_key, "timestamp": ts,
                       "signature": sign(admin.secret, ts, "GET", "/ws")}))
    assert json.loads(c.recv(timeout=5))["ok"]
    return c


@pytest.fixture()
def feed_env():
    env, stop = start_env()
    setup_market(env.admin)
    yield env
    stop()


def test_ring_and_rest_interleaved_nothing_lost_or_duplicated(feed_env):
    env = feed_env
    ring_user, rest_user = env.user(), env.user()
    truth = []                                         # every result, from the Exchange itself
    env.gw.ex.subscribe(truth.append)
    ws = ws_client(env.port, env.admin)
    topics = [f"trades.{SYM}", f"orders.{ring_user.uid}", f"orders.{rest_user.uid}", f"depth.{SYM}"]
    ws.send(json.dumps({"op": "subscribe", "topics": topics}))
    assert json.loads(ws.recv(timeout=5))["ok"]
    snaps = {}
    while len(snaps) < len(topics):
        m = json.loads(ws.recv(timeout=5))
        assert m["type"] == "snapshot"
        snaps[m["topic"]] = m["seq"]

    rng = random.Random(7)
    n_ring, n_rest = 400, 150
    ring_rows = []
    for i in range(n_ring):
        side = rng.randrange(2)
        price = 50000 + rng.randrange(-30, 31)          # steps of 0.01 per 0.1 XBTC lot
        ring_rows.append({"cmd": 1, "side": side, "order_type": rng.choice((0, 0, 1)), "uid": ring_user.uid,
                          "order_id": 1 + i, "price": price, "reserve_price": price if side else 0,
                          "size": rng.randrange(1, 5), "symbol": SYM_ID, "user_cookie": i})
    ring_rows.append({"cmd": 1, "side": 1, "order_type": 0, "uid": 987654, "order_id": 9999, "price": 1,
                      "reserve_price": 1, "size": 1, "symbol": SYM_ID})           # unknown user: rejected
    futures = []

    def pump():
        seq = 0
        while seq < len(ring_rows):
            k = rng.randrange(1, 25)
            futures.append(env.gw.feed.submit(ring_batch(seq, ring_rows[seq:seq + k])))
            seq += k
            time.sleep(0.001)
    t = threading.Thread(target=pump)
    t.start()
    rest_ids = []
    prng = random.Random(11)
    for i in range(n_rest):
        side = prng.choice(("ASK", "BID"))
        price = f"{(50000 + prng.randrange(-30, 31)) / 100:.2f}"
        st, b = rest_user.post(f"{T}/symbols/{SYM}/trade/{rest_user.uid}/orders",
                               {"price": price, "size": prng.randrange(1, 5), "action": side, "userCookie": i})
        assert st == 201, b
        rest_ids.append(b["data"]["orderId"])
    t.join()
    results = [r for f in futures for r in f.result(timeout=10)]
    assert len(results) == n_ring + 1
    assert sum(r.ok for r in results) == n_ring and results[-1].result_code == -1001

    # one total order: ring and REST commands interleave in one contiguous sequence
    seqs = [r.seq for r in truth]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))
    sources = ["ring" if r.command.order_id < (1 << 40) else "rest" for r in truth
               if getattr(r.command, "cmd", 0) == 1]
    assert sources.count("ring") == n_ring + 1 and sources.count("rest") == n_rest
    switches = sum(a != b for a, b in zip(sources, sources[1:]))
    assert switches > 10, "ring and REST orders did not interleave"

    expected_trades = [(tr.price, tr.volume) for r in truth for ev in r.events if type(ev) is TradeEvent
                       for tr in ev.trades]
    assert expected_trades, "the random flow should trade"
    # collect until every expected trade arrived (and a little more, to catch duplicates)
    got: dict[str, list] = {n: [] for n in topics}
    deadline = time.monotonic() + 15
    while len(got[f"trades.{SYM}"]) < len(expected_trades) and time.monotonic() < deadline:
        m = json.loads(ws.recv(timeout=5))
        got[m["topic"]].append(m)
    try:
        while True:
            m = json.loads(ws.recv(timeout=0.5))
            got[m["topic"]].append(m)
    except TimeoutError:
        pass
    ws.close()
    for name, msgs in got.items():                      # per-topic seq: contiguous, no dup, no gap
        assert [m["seq"] for m in msgs] == list(range(snaps[name] + 1, snaps[name] + 1 + len(msgs))), name
    trades = [(round(m["data"]["price"] * 100), m["data"]["volume"]) for m in got[f"trades.{SYM}"]]
    assert trades == expected_trades
    # every order's last update agrees with the gateway's final view (REST and ring alike)
    last = {}
    for name in (f"orders.{ring_user.uid}", f"orders.{rest_user.uid}"):
        for m in got[name]:
            last[m["data"]["orderId"]] = m["data"]
    assert all(oid in last for oid in rest_ids)
    assert sum(1 for oid in last if oid < (1 << 40)) == n_ring
    for oid in list(rest_ids[:20]) + list(range(1, 21)):
        c = rest_user if oid >= (1 << 40) else ring_user
        st, b = c.get(f"{T}/symbols/{SYM}/trade/{c.uid}/orders/{oid}")
        assert st == 200
        assert (b["data"]["state"], b["data"]["filled"]) == (last[oid]["state"], last[oid]["filled"])
    # the book the depth topic built equals the engine's book
    book = {}
    for m in got[f"depth.{SYM}"]:
        for side in ("asks", "bids"):
            for p, v, n in m["data"][side]:
                book[(side, p)] = v
    st, ob = env.public.get(f"{T}/symbols/{SYM}/orderbook?depth=50")
    engine_book = {("asks", p): v for p, v in zip(ob["data"]["askPrices"], ob["data"]["askVolumes"])}
    engine_book |= {("bids", p): v for p, v in zip(ob["data"]["bidPrices"], ob["data"]["bidVolumes"])}
    assert {k: v for k, v in book.items() if v} == engine_book


def test_feed_refuses_gaps_and_wrong_dtype(feed_env):
    feed = feed_env.gw.feed
    u = feed_env.user()
    row = {"cmd": 1, "side": 0, "order_type": 0, "uid": u.uid, "order_id": 5, "price": 90000, "size": 1,
           "symbol": SYM_ID}
    seq0 = feed_env.gw.ex.seq
    assert feed.submit(ring_batch(100, [row])).result(5)[0].ok
    with pytest.raises(FeedError, match="gap"):
        feed.submit(ring_batch(102, [row]))
    with pytest.raises(FeedError, match="contiguous"):
        b = ring_batch(101, [row, row])
        b[1]["seq"] = 200
        feed.submit(b)
    with pytest.raises(FeedError, match="ENTRY_DTYPE"):
        feed.submit(np.zeros(3, dtype=np.int64))
    assert feed_env.gw.ex.seq == seq0 + 1              # nothing of a refused batch was sequenced
    assert feed.refused == 3
    assert feed.submit(ring_batch(101, [row])).result(5)[0].result_code == 100    # same id again: GTC dup
