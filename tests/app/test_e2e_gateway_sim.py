"""End to end through the simulated FPGA path: `ringgate cosim` (the RTL under Verilator with the
cocotbext-pcie model) feeds exchange-core-mix orders into `ringgate serve --backend sim` while REST
orders are placed; WebSocket clients on public and private topics see every event once.

Checked against the exchange's own record, the journal (read after the server stopped):
- every ring entry the co-simulation fed is in the journal exactly once, in ring order, and REST
  commands landed between them (one sequencer, interleaved);
- every REST order got a 201 and is in the journal exactly once;
- per WS topic and client, sequence numbers continue the snapshot's without a gap or a repeat;
- the WS trades of each symbol are exactly the trades a fresh engine reports when it replays the
  journal (command seq, price, volume, in order), on two independent clients;
- the depth topic rebuilds the book the engine ends with, which is also what REST's order book
  shows; the private topic's last update of each REST order agrees with its status endpoint;
- an operator's client on every ring user's private topic heard of every ring order placed after
  it subscribed, and each ring order's last update agrees with the gateway's status of it.

Runtime: 8-10 s with a cached Verilator build of the co-simulation, 20-30 s when the build is
fresh (shared with tests/cosim through the build cache) or both cores are busy.

The ring traffic names users 1..U and symbol 0 (sim/traffic.py); the demo market does not have
them, and the ring is enabled as soon as `serve --backend sim` starts. So the market is prepared
first through the admin REST API of a model-backend `serve` on a journal directory (the traffic's
own setup commands: asset, symbol, users, deposits), and the sim-backend `serve` is restarted on
that directory (docs/gateway.md, Durability: symbols, users and keys survive a restart).
"""
from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from decimal import Decimal
from pathlib import Path

from websockets.sync.client import connect

from ringgate.sw.exchange import AddAsset, AddSymbol, AddUser, AdjustBalance, TradeEvent
from ringgate.sw.exchange.commands import OrderCommand, from_ring
from ringgate.sw.exchange.engine import Engine
from ringgate.sw.exchange.journal import list_segments, scan_segment
from ringgate.sw.gateway.auth import sign
from ringgate.sw.gateway.client import Client

ROOT = Path(__file__).resolve().parents[2]
A, T = "/syncAdminApi/v1", "/syncTradeApi/v1"
ORDERS, LOAD = 300, "0.03"                  # ring orders (the cosim command's --orders / --load)
RING_SYM, RING_CODE = 0, "B0_XBTC"           # sim/traffic.py's symbol 0, quoted in the demo's XBTC
REST_BASE = 1 << 40                          # ringgate.sw.gateway REST order ids start here
SCALE = {1: 8, 100: 8}                       # XBTC (demo asset 1 = the traffic's quote id) and B0


def ring_traffic():
    """The orders `ringgate cosim --orders ORDERS --load LOAD` feeds (same derivation as the command)."""
    from ringgate.sim.traffic import make_traffic
    resting = max(1, min(1000, ORDERS // 10))
    return make_traffic(ORDERS - resting, users=max(10, min(1000, ORDERS // 4)), symbols=1, resting=resting,
                        load=float(LOAD), seed=1)


def dec(minor: int, scale: int) -> str:
    return str(Decimal(minor).scaleb(-scale))


class Proc:
    """A subprocess whose merged output is collected by a thread (so it never blocks on a pipe)."""

    def __init__(self, args, env=None):
        self.p = subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                  text=True, start_new_session=True)
        self.lines: list[str] = []
        self.t = threading.Thread(target=self._read, daemon=True)
        self.t.start()

    def _read(self):
        for line in self.p.stdout:
            self.lines.append(line)

    @property
    def out(self) -> str:
        return "".join(self.lines)

    def wait_for(self, text, timeout):
        deadline = time.monotonic() + timeout
        while text not in self.out:
            assert self.p.poll() is None or text in self.out, f"exited {self.p.returncode} before {text!r}:\n{self.out[-3000:]}"
            assert time.monotonic() < deadline, f"no {text!r} within {timeout} s:\n{self.out[-3000:]}"
            time.sleep(0.05)

    def stop(self, timeout=30):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
        try:
            self.p.wait(timeout=timeout)
        finally:
            if self.p.poll() is None:
                os.killpg(self.p.pid, signal.SIGKILL)
                self.p.wait()
            self.t.join(timeout=5)
        return self.p.returncode


def serve(tmp_path, name, *args, env=None):
    creds = tmp_path / f"{name}.json"
    p = Proc([sys.executable, "-m", "ringgate.sw.gateway.cli", "--port", "0", "--journal-dir", str(tmp_path / "journal"),
              "--credentials-file", str(creds), *args], env=env)
    deadline = time.monotonic() + 60
    while not creds.exists() or not creds.read_text().strip().endswith("}"):
        assert p.p.poll() is None, p.out[-3000:]
        assert time.monotonic() < deadline, p.out[-3000:]
        time.sleep(0.05)
    c = json.loads(creds.read_text())
    host, port = c["url"].removeprefix("http://").split(":")
    return p, c, host, int(port)


def prepare_market(host, port, admin, tr):
    """The traffic's setup commands through the admin REST API (the quote asset is the demo's XBTC)."""
    adm = Client(host, port, admin["apiKey"], admin["secret"])
    codes = {1: "XBTC"}
    for c in tr.setup:
        if type(c) is AddAsset:
            if c.asset_id in codes:
                continue
            codes[c.asset_id] = c.code
            st, b = adm.post(f"{A}/assets", {"assetCode": c.code, "assetId": c.asset_id, "scale": SCALE[c.asset_id]})
        elif type(c) is AddSymbol:
            assert c.symbol_id == RING_SYM and c.quote_currency == 1
            q = SCALE[1]
            st, b = adm.post(f"{A}/symbols", {
                "symbolId": c.symbol_id, "symbolCode": RING_CODE, "symbolType": "CURRENCY_EXCHANGE_PAIR",
                "baseAsset": codes[c.base_currency], "quoteCurrency": "XBTC",
                "lotSize": dec(c.base_scale_k, SCALE[c.base_currency]), "stepSize": dec(c.quote_scale_k, q),
                "takerFee": dec(c.taker_fee, q), "makerFee": dec(c.maker_fee, q)})
        elif type(c) is AddUser:
            st, b = adm.post(f"{A}/users", {"uid": c.uid})
            assert b["coreResultCode"] == 100, b
        elif type(c) is AdjustBalance:
            st, b = adm.post(f"{A}/users/{c.uid}/accounts", {"transactionId": c.transaction_id,
                             "amount": dec(c.amount, SCALE[c.currency]), "currency": codes[c.currency]})
        else:
            raise AssertionError(f"unexpected setup command {c!r}")
        assert st == 201 and b["gatewayResultCode"] == 0, (c, b)
    # the REST trader on the ring's symbol holds its base asset too
    st, b = adm.post(f"{A}/users/1001/accounts", {"transactionId": 900, "amount": "1000000", "currency": "B0"})
    assert st == 201 and b["gatewayResultCode"] == 0, b
    adm.close()


class WsClient:
    """A real WebSocket client on its own thread; keeps every message per topic."""

    def __init__(self, port, topics, key=None):
        self.ws = connect(f"ws://127.0.0.1:{port}/ws", max_queue=None).__enter__()
        if key is not None:
            ts = int(time.time() * 1000)
            self.ws.send(json.dumps({"op": "auth", "apiKey": key["apiKey"], "timestamp": ts,
                                     "signature": sign(key["secret"], ts, "GET", "/ws")}))
            assert json.loads(self.ws.recv(timeout=10))["ok"]
        self.ws.send(json.dumps({"op": "subscribe", "topics": topics}))
        r = json.loads(self.ws.recv(timeout=10))
        assert r["ok"], r
        self.snap, self.snap_data = {}, {}
        while len(self.snap) < len(topics):
            m = json.loads(self.ws.recv(timeout=10))
            assert m["type"] == "snapshot", m
            self.snap[m["topic"]], self.snap_data[m["topic"]] = m["seq"], m["data"]
        self.got = {t: [] for t in topics}
        self.other = []
        self.t = threading.Thread(target=self._run, daemon=True)
        self.t.start()

    def _run(self):
        try:
            for raw in self.ws:
                m = json.loads(raw)
                (self.got[m["topic"]] if m.get("topic") in self.got else self.other).append(m)
        except Exception:       # closed at the end of the test (or by the server: the seq checks say so)
            pass

    def count(self):
        return sum(len(v) for v in self.got.values())

    def close(self):
        self.ws.close()
        self.t.join(timeout=5)


def replay_journal(journal_dir):
    """Every journaled command in order, and the results a fresh engine gives for them."""
    eng, results = Engine(), []
    expect = 1
    for _, path in list_segments(Path(journal_dir)):
        frames, good, size = scan_segment(path)
        assert good == size, f"{path}: torn journal"
        for first, ts, cmds in frames:
            assert first == expect, f"journal gap/overlap at {first} (expected {expect})"
            for i, c in enumerate(cmds):
                results.append(eng.apply(first + i, ts, c))
            expect = first + len(cmds)
    return eng, results


def test_gateway_e2e_sim_ring_and_rest_interleaved(tmp_path):
    tr = ring_traffic()
    procs = []
    sim_dir = tmp_path / "cosim"
    cosim = Proc([sys.executable, "-c", "from ringgate.app.mainjob import cosim; cosim()", "--orders", str(ORDERS),
                  "--load", LOAD, "--dir", str(sim_dir), "--exit-when-drained"])
    procs.append(cosim)
    try:
        # 1. the market: demo + the ring traffic's asset, symbol, users and deposits, journaled
        gw, creds, host, port = serve(tmp_path, "setup", "--fsync", "never")
        procs.append(gw)
        prepare_market(host, port, creds["admin"], tr)
        assert gw.stop() == 0, gw.out[-3000:]

        # 2. the sim-backend gateway on that journal; the co-simulation starts feeding once it enables
        cosim.wait_for("RINGGATE_SIM_DIR=", 240)
        env = {**os.environ, "RINGGATE_SIM_DIR": str(sim_dir)}
        gw, creds, host, port = serve(tmp_path, "sim", "--backend", "sim", env=env)
        procs.append(gw)
        assert "FPGA ring feed: sim backend" in gw.out
        trader, taker = creds["users"]["1001"], creds["users"]["1002"]
        pub_topics = [f"trades.{RING_CODE}", f"depth.{RING_CODE}", "trades.XBTC_USDT", "depth.XBTC_USDT"]
        ws_pub = WsClient(port, pub_topics)
        ws_priv = WsClient(port, ["orders.1001", f"trades.{RING_CODE}", "trades.XBTC_USDT"], key=trader)
        ring_uids = sorted({int(u) for u in tr.entries["uid"]})
        ws_ops = WsClient(port, [f"orders.{u}" for u in ring_uids], key=creds["admin"])    # an operator

        # 3. REST orders while the ring flows: 1001 on the ring's book, 1002 against the demo maker
        c1, c2 = Client(host, port, trader["apiKey"], trader["secret"]), Client(host, port, taker["apiKey"], taker["secret"])
        rng = random.Random(5)
        rest = []                                    # (uid, orderId) of every 201
        n_replies = 0

        def place_one(i, last=False):
            nonlocal n_replies
            if i % 3 == 2 and not last:
                c, uid, sym = c2, 1002, "XBTC_USDT"
                side = rng.choice(("ASK", "BID"))
                body = {"price": "59.75" if side == "ASK" else "60.25", "size": 1, "action": side,
                        "orderType": "IOC", "userCookie": i}
            else:
                c, uid, sym = c1, 1001, RING_CODE
                side = rng.choice(("ASK", "BID"))
                steps = 100_000 + rng.randrange(-40, 41)      # around the traffic's centre
                body = {"price": dec(steps, 8), "size": rng.randrange(1, 5), "action": side,
                        "orderType": rng.choice(("GTC", "GTC", "IOC")), "userCookie": i}
            st, b = c.post(f"{T}/symbols/{sym}/trade/{uid}/orders", body)
            n_replies += 1
            assert st == 201 and b["gatewayResultCode"] == 0, b
            rest.append((uid, sym, b["data"]["orderId"]))

        i = 0
        deadline = time.monotonic() + 120
        while cosim.p.poll() is None and i < 400:
            assert time.monotonic() < deadline, cosim.out[-3000:]
            place_one(i)
            i += 1
            time.sleep(0.005)
        assert cosim.p.wait(timeout=60) == 0, cosim.out[-3000:]
        assert "scoreboard clean" in cosim.out and f"fed {ORDERS}/{ORDERS}" in cosim.out, cosim.out[-3000:]
        # the drained device stops; the feed thread ends after delivering everything up to SENT
        gw.wait_for("FPGA ring feed (sim backend) stopped", 30)
        for _ in range(10):                          # REST keeps serving after the ring ended
            place_one(i)
            i += 1
        place_one(i, last=True)                      # a 1001 order as the very last command
        i += 1
        # once the last command's update reached the private client (in publish order), every
        # earlier event was sent too; then the public client must have the same trade counts
        last = rest[-1][2]
        wait = time.monotonic() + 20
        while not any(m["data"]["orderId"] == last for m in ws_priv.got["orders.1001"]):
            assert time.monotonic() < wait, "the last REST order's update never arrived"
            time.sleep(0.05)
        n = len(ws_priv.got[f"trades.{RING_CODE}"]), len(ws_priv.got["trades.XBTC_USDT"])
        while (len(ws_pub.got[f"trades.{RING_CODE}"]), len(ws_pub.got["trades.XBTC_USDT"])) < n:
            assert time.monotonic() < wait, "the public client fell behind"
            time.sleep(0.05)
        ops = -1                                     # the operator's feed has long been quiet; make sure
        while ops != ws_ops.count():
            ops = ws_ops.count()
            time.sleep(0.3)                          # anything extra (a duplicate) would show up now too
        st, book = Client(host, port).get(f"{T}/symbols/{RING_CODE}/orderbook?depth=-1")
        assert st == 200
        statuses = {}
        for uid, sym, oid in rest[::7] + rest[-3:]:
            c = c1 if uid == 1001 else c2
            st, b = c.get(f"{T}/symbols/{sym}/trade/{uid}/orders/{oid}")
            assert st == 200, b
            statuses[oid] = b["data"]
        # every ring order the operator heard of: its status as the gateway reports it (operators may read)
        adm = Client(host, port, creds["admin"]["apiKey"], creds["admin"]["secret"])
        ring_status = {}
        for name, msgs in ws_ops.got.items():
            for oid in {m["data"]["orderId"] for m in msgs}:
                st, b = adm.get(f"{T}/symbols/{RING_CODE}/trade/{name.split('.')[1]}/orders/{oid}")
                assert st == 200, b
                ring_status[(int(name.split(".")[1]), oid)] = b["data"]
        adm.close()
        for ws in (ws_pub, ws_priv, ws_ops):
            ws.close()
        c1.close()
        c2.close()
        assert gw.stop() == 0, gw.out[-3000:]
    finally:
        for p in procs:
            if p.p.poll() is None:
                p.stop(timeout=10)

    # ---- the exchange's record: the journal, replayed by a fresh engine
    eng, results = replay_journal(tmp_path / "journal")
    orders = [r for r in results if type(r.command) is OrderCommand]
    ring = [r for r in orders if r.command.order_id < REST_BASE]
    ring = ring[len([r for r in ring if r.command.uid == 1000]):]        # the demo maker's book first
    assert all(r.command.uid != 1000 for r in ring)
    # every entry exactly once, in ring order
    assert [r.command for r in ring] == from_ring(tr.entries)
    ok = sum(r.ok for r in ring)
    assert ok >= 0.9 * len(ring), f"only {ok}/{len(ring)} ring orders accepted"
    # every REST reply corresponds to exactly one journaled place, and nothing else came from REST
    rest_cmds = [r.command for r in orders if r.command.order_id >= REST_BASE]
    assert len(rest) == n_replies == i
    assert sorted((c.uid, c.order_id) for c in rest_cmds) == sorted((u, o) for u, _, o in rest)
    # interleaved: REST commands between ring entries, many times over
    src = ["ring" if r.command.order_id < REST_BASE else "rest" for r in orders[len(orders) - len(ring) - len(rest_cmds):]]
    switches = sum(a != b for a, b in zip(src, src[1:]))
    assert switches >= 10, "ring and REST orders did not interleave"

    print(f"E2E ring {len(ring)} ({ok} ok), REST {len(rest)}, switches {switches}")
    # ---- WebSocket: per-topic sequence numbers contiguous from the snapshot's, on every client
    for ws in (ws_pub, ws_priv, ws_ops):
        assert not ws.other, ws.other[:3]
        for name, msgs in ws.got.items():
            assert [m["seq"] for m in msgs] == list(range(ws.snap[name] + 1, ws.snap[name] + 1 + len(msgs))), name
            assert all(m["type"] == "update" for m in msgs), name
    # the trades each client saw are the engine's, one for one (seq of the command, price, volume)
    step = {RING_SYM: Decimal("0.00000001"), 1: Decimal("0.01")}
    # The ring starts when serve enables it, before the clients subscribe: a client's view of a
    # symbol's trades is its snapshot (the recent trades, each with its command seq) + the updates.
    for sym, code in ((RING_SYM, RING_CODE), (1, "XBTC_USDT")):
        want = [(r.seq, t.price, t.volume) for r in results for ev in r.events
                if type(ev) is TradeEvent and ev.symbol == sym for t in ev.trades]
        assert len(want) > 20, f"{code}: too few trades ({len(want)}) to prove anything"
        for ws in (ws_pub, ws_priv):
            msgs = ws.snap_data[f"trades.{code}"] + [m["data"] for m in ws.got[f"trades.{code}"]]
            got = [(d["seq"], int(Decimal(str(d["price"])) / step[sym]), d["volume"]) for d in msgs]
            assert got == want, code
            print(f"E2E {code}: {len(want)} trades, {len(ws.snap_data[f'trades.{code}'])} in the snapshot")
            assert len(ws.got[f"trades.{code}"]) >= len(want) // 2, "most trades should come as live updates"
    # the depth topic rebuilds the engine's final book, which REST shows too
    levels = {}
    for side, lv in (("asks", eng.books[RING_SYM].asks), ("bids", eng.books[RING_SYM].bids)):
        for p, level in lv.items():
            if level.volume:
                levels[(side, p)] = level.volume
    built = {}
    for side in ("asks", "bids"):
        for p, v, _ in ws_pub.snap_data[f"depth.{RING_CODE}"][side]:
            built[(side, int(Decimal(str(p)) / step[RING_SYM]))] = v
    for m in ws_pub.got[f"depth.{RING_CODE}"]:
        for side in ("asks", "bids"):
            for p, v, _ in m["data"][side]:
                built[(side, int(Decimal(str(p)) / step[RING_SYM]))] = v
    assert {k: v for k, v in built.items() if v} == levels
    rest_book = {("asks", int(Decimal(str(p)) / step[RING_SYM])): v
                 for p, v in zip(book["data"]["askPrices"], book["data"]["askVolumes"])}
    rest_book |= {("bids", int(Decimal(str(p)) / step[RING_SYM])): v
                  for p, v in zip(book["data"]["bidPrices"], book["data"]["bidVolumes"])}
    assert rest_book == levels
    # the private topic: an update for every REST order of 1001; the last one agrees with its status
    last_upd = {}
    for m in ws_priv.got["orders.1001"]:
        last_upd[m["data"]["orderId"]] = m["data"]
    assert {o for u, _, o in rest if u == 1001} <= set(last_upd)
    for oid, s in statuses.items():
        if oid in last_upd:
            assert (last_upd[oid]["state"], last_upd[oid]["filled"]) == (s["state"], s["filled"]), oid
    # ring orders on the operator's private topics: every ring order placed after the operator
    # subscribed (i.e. after the first REST order) was announced, and the last update of every ring
    # order agrees with the gateway's status of it
    first_rest = min(r.seq for r in orders if r.command.order_id >= REST_BASE)
    later = {(r.command.uid, r.command.order_id) for r in ring if r.command.cmd == 1 and r.seq > first_rest}
    assert len(later) > 20
    last_ring = {}
    for name, msgs in ws_ops.got.items():
        for m in msgs:
            last_ring[(int(name.split(".")[1]), m["data"]["orderId"])] = m["data"]
    assert later <= set(last_ring), sorted(later - set(last_ring))[:5]
    print(f"E2E ring orders announced after subscribe {len(later)}, statuses checked {len(ring_status)}")
    for k, s in ring_status.items():
        assert (last_ring[k]["state"], last_ring[k]["filled"], last_ring[k]["size"]) == \
            (s["state"], s["filled"], s["size"]), k
