"""WebSocket topics with a real WebSocket client (websockets): snapshot on subscribe, per-topic
sequence numbers, private topics and their access control, slow-consumer cut-off."""
from __future__ import annotations

import json
import socket
import time

from websockets.sync.client import connect

from .helpers import SYM, T, start_env, setup_market

from ringgate.sw.gateway.auth import sign
from ringgate.sw.gateway.ws import WRITE_AT, WsLimits


class Ws:
    def __init__(self, port):
        self.c = connect(f"ws://127.0.0.1:{port}/ws", open_timeout=5).__enter__()
        self.ids = 0

    def send(self, **msg):
        self.ids += 1
        msg.setdefault("id", self.ids)
        self.c.send(json.dumps(msg))
        return msg["id"]

    def recv(self, timeout=5.0):
        return json.loads(self.c.recv(timeout=timeout))

    def call(self, **msg):
        """Send an op and return its response (skipping nothing: the response comes first)."""
        i = self.send(**msg)
        r = self.recv()
        assert r.get("id") == i, r
        return r

    def auth(self, client):
        ts = int(time.time() * 1000)
        return self.call(op="auth", apiKey=client.api_key, timestamp=ts, signature=sign(client.secret, ts, "GET", "/ws"))

    def subscribe(self, topic):
        r = self.call(op="subscribe", topic=topic)
        assert r["ok"], r
        snap = self.recv()
        assert snap["type"] == "snapshot" and snap["topic"] == topic
        return snap

    def until(self, pred, timeout=5.0):
        end = time.monotonic() + timeout
        while True:
            m = self.recv(max(0.01, end - time.monotonic()))
            if pred(m):
                return m

    def close(self):
        self.c.close()


def place(c, price, size, action, order_type="GTC"):
    st, b = c.post(f"{T}/symbols/{SYM}/trade/{c.uid}/orders",
                   {"price": price, "size": size, "action": action, "orderType": order_type})
    assert st in (201, 400), b
    return b["data"]


def test_scenario_on_private_and_public_topics(env):
    maker, taker = env.user(), env.user()
    wm, wt, wp = Ws(env.port), Ws(env.port), Ws(env.port)
    try:
        assert wm.auth(maker)["uid"] == maker.uid
        assert wt.auth(taker)["ok"]
        sm = wm.subscribe(f"orders.{maker.uid}")
        st_ = wt.subscribe(f"orders.{taker.uid}")
        assert sm["data"] == [] and st_["data"] == []
        tr = wp.subscribe(f"trades.{SYM}")
        bars = wp.subscribe(f"bars.{SYM}.M1")
        depth = wp.subscribe(f"depth.{SYM}")
        ask = place(maker, "829.33", 3, "ASK")
        m = wm.recv()
        assert (m["seq"], m["data"]["event"], m["data"]["state"]) == (sm["seq"] + 1, "placed", "ACTIVE")
        place(taker, "829.41", 4, "BID", "IOC")
        m = wm.recv()
        assert m["seq"] == sm["seq"] + 2
        assert (m["data"]["orderId"], m["data"]["state"], m["data"]["filled"]) == (ask["orderId"], "COMPLETED", 3)
        assert m["data"]["lastDeal"]["party"] == "MAKER"
        t1, t2 = wt.recv(), wt.recv()
        assert (t1["data"]["state"], t1["data"]["filled"]) == ("PARTIALLY_FILLED", 3)
        assert (t2["data"]["state"], t2["data"]["filled"]) == ("REJECTED", 3)
        assert [t1["seq"], t2["seq"]] == [st_["seq"] + 1, st_["seq"] + 2]
        # public: one tick {829.33, 3}; the M1 bar; depth saw the ask appear and go
        got = {}
        while len(got) < 3 or got.get(f"depth.{SYM}", 0) < 2:
            msg = wp.recv()
            got[msg["topic"]] = got.get(msg["topic"], 0) + 1
            if msg["topic"] == f"trades.{SYM}":
                assert msg["seq"] == tr["seq"] + 1
                assert (msg["data"]["price"], msg["data"]["volume"], msg["data"]["takerAction"]) == (829.33, 3, "BID")
            elif msg["topic"] == f"bars.{SYM}.M1":
                assert msg["seq"] == bars["seq"] + 1 and msg["data"]["close"] == 829.33
            else:
                assert msg["seq"] == depth["seq"] + got[msg["topic"]]
                asks = {p: v for p, v, n in msg["data"]["asks"]}
                assert asks.get(829.33) == (3 if got[msg["topic"]] == 1 else 0)
        # a later subscriber starts from a snapshot that includes the trade
        w2 = Ws(env.port)
        snap = w2.subscribe(f"trades.{SYM}")
        assert snap["seq"] == tr["seq"] + 1 and snap["data"][-1]["price"] == 829.33
        w2.close()
    finally:
        wm.close(), wt.close(), wp.close()


def test_private_topic_access_control(env):
    alice, bob = env.user(), env.user()
    w = Ws(env.port)
    try:
        r = w.call(op="subscribe", topic=f"orders.{alice.uid}")
        assert r["type"] == "error" and r["status"] == 401 and "auth" in r["message"]
        r = w.call(op="auth", apiKey=alice.api_key, timestamp=int(time.time() * 1000), signature="00")
        assert r["type"] == "error" and r["status"] == 401 and "signature" in r["message"]
        w.auth(bob)
        for topic in (f"orders.{alice.uid}", f"balances.{alice.uid}"):
            r = w.call(op="subscribe", topic=topic)
            assert r["type"] == "error" and r["status"] == 403, r
        # all-or-nothing: a list with one forbidden topic subscribes to none
        r = w.call(op="subscribe", topics=[f"orders.{bob.uid}", f"orders.{alice.uid}"])
        assert r["status"] == 403
        place(alice, "10.00", 1, "BID")
        snap = w.subscribe(f"balances.{bob.uid}")
        usdt = {a["currency"]: a for a in snap["data"]["accounts"]}["USDT"]
        assert usdt["balance"] == 100000.0
        place(bob, "10.00", 2, "BID")           # holds 2 * (10.00 + 0.08)
        m = w.recv()
        assert m["topic"] == f"balances.{bob.uid}" and m["seq"] == snap["seq"] + 1
        usdt = {a["currency"]: a for a in m["data"]["accounts"]}["USDT"]
        assert usdt["held"] == 20.16 and usdt["balance"] == 99979.84
        for bad, word in (("nope", "unknown topic"), (f"trades.NOPE", "unknown symbol"),
                          (f"bars.{SYM}.M2", "time frame"), ("orders.x", "uid")):
            r = w.call(op="subscribe", topic=bad)
            assert r["type"] == "error" and word in r["message"], r
        assert w.call(op="ping")["type"] == "pong"
        w.c.send("{nope")
        assert "bad message" in w.recv()["message"]
        r = w.call(op="dance")
        assert r["type"] == "error" and "unknown op" in r["message"]
        assert w.call(op="unsubscribe", topic=f"balances.{bob.uid}")["ok"]
        place(bob, "10.00", 1, "BID")
        assert w.call(op="ping")["type"] == "pong"        # no balance update arrived before the pong
    finally:
        w.close()


def test_admin_may_watch_any_user(env):
    u = env.user()
    w = Ws(env.port)
    try:
        w.auth(env.admin)
        snap = w.subscribe(f"orders.{u.uid}")
        place(u, "11.00", 1, "BID")
        assert w.recv()["data"]["uid"] == u.uid and snap["data"] == []
    finally:
        w.close()


def test_slow_consumer_is_cut_off_and_others_keep_up():
    env, stop = start_env(ws_limits=WsLimits(max_buffer=256 * 1024))
    try:
        setup_market(env.admin)
        fast = Ws(env.port)
        snap = fast.subscribe(f"trades.{SYM}")
        # a raw client that completes the handshake and then never reads
        s = socket.create_connection(("127.0.0.1", env.port))
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.sendall(b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
        assert b"101" in s.recv(4096)
        sub = json.dumps({"op": "subscribe", "topic": f"trades.{SYM}"}).encode()
        mask = b"\x01\x02\x03\x04"
        s.sendall(bytes((0x81, 0x80 | len(sub))) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(sub)))
        time.sleep(0.2)
        gw = env.gw
        hub = gw.hub
        assert len(hub.topics[f"trades.{SYM}"].subs) == 2
        # shrink the server's send buffer for the slow client, so the kernel cannot absorb the flood
        (slow,) = [c for c in hub.conns if c.transport.get_extra_info("peername")[1] == s.getsockname()[1]]
        slow.transport.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
        payload = {"pad": "x" * 4000}
        n = 400                                    # 1.6 MB for each subscriber

        def flood():
            for _ in range(n):
                hub.publish(f"trades.{SYM}", payload)
        t0 = time.perf_counter()
        gw.loop.call_soon_threadsafe(flood)
        seen = 0
        while seen < n:
            m = fast.recv()
            assert m["seq"] == snap["seq"] + seen + 1          # nothing lost for the fast client
            seen += 1
        assert time.perf_counter() - t0 < 30
        assert hub.cut_off == 1
        assert len(hub.topics[f"trades.{SYM}"].subs) == 1
        # cut off as soon as it passed the limit: never more than the limit + one early write
        assert slow.peak <= 256 * 1024 + WRITE_AT + 5000, slow.peak
        s.settimeout(5)
        try:                                       # drains what was sent until the abort
            while s.recv(65536):
                pass
        except OSError:
            pass
        fast.close()
        s.close()
    finally:
        stop()
