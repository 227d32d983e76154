"""Gateway benchmark: ``ringgate perf gateway [--quick] [--fsync batch|interval|never|memory]``.

The gateway runs in its own process pinned to core 0; the load generators run in other processes
pinned to core 1 (wrk2 is not installable here without apt, so the HTTP load generator is our
own: uvloop + raw sockets, pre-signed requests). Measured:

1. place-order throughput, closed loop (HTTP parse, HMAC auth, msgspec decode, sequencer +
   journal per the fsync policy, engine, registry, reply), C connections x D pipelined requests;
2. place-order latency, open loop at a fixed offered rate: request *i* is due at t0 + i/rate and
   its latency is reply time - due time, so a stalled server is charged for every request it
   delayed (wrk2's correction for coordinated omission);
3. private order update latency: the same open-loop orders, measured from each order's due time
   to its first update on the owner's ``orders.<uid>`` WebSocket topic;
4. WebSocket fan-out: N subscribers on one topic, the server publishing bursts (as a busy
   feed does: many events per loop tick), deliveries/s counted by the subscriber process;
5. memory: the server's RSS idle (market set up) and after the runs.

Other stages (``--stage``):

* ``hostile``: server memory per hostile connection, per kind of abuse (a fresh server for each:
  RSS sampled while N client sockets that never read do it);
* ``idle``: CPU share of an idle ``ringgate serve`` without a ring backend and with the model
  backend in each poll mode;
* ``poll``: the ring feed's wake-up latency and CPU per poll mode (busy, adaptive, sleep): entries
  fed from another thread after short and long quiet spells, latency from the feed to the
  consumer's callback.

Results print as a table and optionally go to ``--json``.
"""
from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from multiprocessing import Process, Queue

import click

__all__ = ["command", "run"]

SYM = "XBTC_USDT"
N_USERS = 64
SWITCH_INTERVAL = 0.0002     # as `ringgate serve` sets it: the sequencer thread hand-off


def _pin(core: int):
    try:
        os.sched_setaffinity(0, {core % os.cpu_count()})
    except (AttributeError, OSError):
        pass


def tune_gc():
    """As `ringgate serve` does: see ringgate.sw.gateway.cli.tune_gc."""
    from ringgate.sw.gateway.cli import tune_gc as t
    t()


def _rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


# ============================================================================ server child

def serve_child(fsync: str, core: int):
    """The gateway under test (``python -m ringgate.app.perf.gateway FSYNC``)."""
    _pin(core)
    sys.setswitchinterval(SWITCH_INTERVAL)
    import uvloop

    gw, ex, _ = _bench_gateway(fsync)

    if os.environ.get("RG_BENCH_GC") != "default":
        tune_gc()

    async def main():
        port = await gw.start("127.0.0.1", 0)
        loop = asyncio.get_running_loop()
        done = asyncio.Event()

        def control():
            for line in sys.stdin:
                parts = line.split()
                if not parts:
                    continue
                if parts[0] == "burst":          # burst TOPIC TOTAL PER_TICK SIZE
                    topic, total, per_tick, size = parts[1], int(parts[2]), int(parts[3]), int(parts[4])
                    payload = {"pad": "x" * size}

                    def tick(left=total):
                        for _ in range(min(per_tick, left)):
                            gw.hub.publish(topic, payload)
                        if left > per_tick:
                            loop.call_soon(tick, left - per_tick)
                    loop.call_soon_threadsafe(tick)
                elif parts[0] == "stats":
                    loop.call_soon_threadsafe(lambda: print(json.dumps(
                        {"stats": {"requests": gw.http.requests, "errors": gw.http.errors,
                                   "batches": gw.bridge.batches, "commands": gw.bridge.commands,
                                   "cut_off": gw.hub.cut_off, "delivered": gw.hub.delivered}}), flush=True))
                elif parts[0] == "quit":
                    break
            loop.call_soon_threadsafe(done.set)
        threading.Thread(target=control, daemon=True).start()
        print(f"READY {port} {os.getpid()}", flush=True)
        await done.wait()
        await gw.stop()
        ex.close()
    if os.environ.get("RG_BENCH_PROFILE"):
        import cProfile
        cProfile.runctx("uvloop.run(main())", globals(), locals(), os.environ["RG_BENCH_PROFILE"])
    else:
        uvloop.run(main())


def _bench_gateway(fsync: str = "memory"):
    from ringgate.sw.exchange import (AddAsset, AddSymbol, AddUser, AdjustBalance, Exchange, FsyncPolicy, SymbolType)

    from ringgate.sw.gateway.app import Gateway
    from ringgate.sw.gateway.http import Limits
    from ringgate.sw.gateway.ws import WsLimits
    tmp = None
    if fsync == "memory":
        ex = Exchange.in_memory()
    else:
        tmp = tempfile.mkdtemp(prefix="rg-bench-")
        ex = Exchange.open(tmp, fsync=FsyncPolicy(fsync))
    cmds = [AddAsset(1, "XBTC", 8), AddAsset(2, "USDT", 2),
            AddSymbol(10, SymbolType.CURRENCY_EXCHANGE_PAIR, 1, 2, 10**5, 1, 8, 3)]
    for uid in range(1, N_USERS + 1):
        cmds += [AddUser(uid), AdjustBalance(uid, 1, 10**15, 1), AdjustBalance(uid, 2, 10**15, 2)]
    ex.submit_many(cmds)
    gw = Gateway(ex, meta_dir=tmp, limits=Limits(max_per_address=100_000),
                 ws_limits=WsLimits(max_connections=100_000, max_per_address=100_000))
    s = gw.meta.symbols.pop("S10")                 # created below the gateway: give it its code
    s.code = SYM
    gw.meta.add_symbol(s)
    for uid in range(1, N_USERS + 1):
        gw.keys.add(uid, "user", f"bench{uid}", f"secret{uid}")
    return gw, ex, tmp


def cpu_per_order(n: int, depth: int, core: int, q: Queue):
    """Server CPU per place order without the network: the real connection protocol object fed
    the request bytes, replies captured by a stub transport. Process CPU time, so other jobs on
    the machine do not inflate it (they inflate wall time)."""
    _pin(core)
    import uvloop

    from ringgate.sw.gateway.http import _Conn
    gw, ex, _ = _bench_gateway("memory")

    class Sink:
        replies = 0

        def write(self, d):
            Sink.replies += d.count(b"HTTP/1.1 ")

        def close(self):
            pass

        pause_reading = resume_reading = close

        def get_extra_info(self, *a):
            return None

        def get_write_buffer_size(self):
            return 0

        def set_write_buffer_limits(self, high=None, low=None):
            pass

    async def main():
        await gw.start("127.0.0.1", 0)
        reqs = _orders(1, n, 0)
        conn = _Conn(gw.http)
        conn.connection_made(Sink())
        t0, c0 = time.perf_counter(), time.process_time()
        for i in range(0, n, depth):
            k = min(depth, n - i)
            conn.data_received(b"".join(reqs[i:i + k]))
            while Sink.replies < i + k:
                await asyncio.sleep(0)
        t1, c1 = time.perf_counter(), time.process_time()
        await gw.stop()
        q.put({"cpu_us": (c1 - c0) / n * 1e6, "wall_rate": n / (t1 - t0), "errors": gw.http.errors})
    uvloop.run(main())


# ============================================================================ HTTP load

def _orders(uid: int, n: int, start: int):
    """Pre-signed place requests for ``uid``: GTC bids and asks around one price, so about half
    of them trade and the book stays small."""
    from ringgate.sw.gateway.auth import sign
    path = f"/syncTradeApi/v1/symbols/{SYM}/trade/{uid}/orders"
    ts = int(time.time() * 1000)
    out = []
    for i in range(start, start + n):
        side = "BID" if i % 2 else "ASK"
        price = 6000 + (i * 7) % 9 - 4
        body = b'{"price":"%d.%02d","size":1,"action":"%s","orderType":"GTC","userCookie":%d}' % (
            price // 100, price % 100, side.encode(), i % 2**31)
        sig = sign(f"secret{uid}", ts, "POST", path, body)
        out.append((f"POST {path} HTTP/1.1\r\nHost: b\r\nContent-Type: application/json\r\n"
                    f"X-RG-APIKEY: bench{uid}\r\nX-RG-TIMESTAMP: {ts}\r\nX-RG-SIGNATURE: {sig}\r\n"
                    f"Content-Length: {len(body)}\r\n\r\n").encode() + body)
    return out


def _cancels(uid: int, n: int, start: int):
    """Pre-signed cancels of order ids nobody has: answered (400, -3002) after the sequencer."""
    from ringgate.sw.gateway.auth import sign
    ts = int(time.time() * 1000)
    out = []
    for i in range(start, start + n):
        path = f"/syncTradeApi/v1/symbols/{SYM}/trade/{uid}/orders/{i + 1}"
        sig = sign(f"secret{uid}", ts, "DELETE", path)
        out.append((f"DELETE {path} HTTP/1.1\r\nHost: b\r\nX-RG-APIKEY: bench{uid}\r\nX-RG-TIMESTAMP: {ts}\r\n"
                    f"X-RG-SIGNATURE: {sig}\r\n\r\n").encode())
    return out


class _HttpConn(asyncio.Protocol):
    def __init__(self, on_response):
        self.buf = bytearray()
        self.on_response = on_response
        self.transport = None
        self.bad = 0

    def connection_made(self, t):
        self.transport = t

    def data_received(self, data):
        buf = self.buf
        buf += data
        now = time.perf_counter()
        while True:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                return
            i = buf.find(b"Content-Length: ", 0, end)
            j = buf.find(b"\r\n", i)
            total = end + 4 + int(buf[i + 16:j])
            if len(buf) < total:
                return
            if buf[9:10] not in (b"2",):
                self.bad += 1
            del buf[:total]
            self.on_response(self, now)


async def _connect(port, n, on_response):
    loop = asyncio.get_running_loop()
    conns = []
    for _ in range(n):
        _, p = await loop.create_connection(lambda: _HttpConn(on_response), "127.0.0.1", port)
        conns.append(p)
    return conns


def http_closed_loop(port: int, conns: int, depth: int, seconds: float, core: int, q: Queue):
    _pin(core)
    import uvloop

    async def main():
        counts = {"n": 0, "g": 0}
        users = {}
        reqs = {}

        def more(c, k):
            r = reqs[c]
            if len(r) < k:                          # fresh timestamps (the auth window is 5 s) and
                counts["g"] += 200                      # unique cookies (a repeated signature is a replay)
                r.extend(_orders(users[c], 200, counts["g"]))
            c.transport.write(b"".join(r.pop() for _ in range(k)))

        def on_resp(c, now):
            counts["n"] += 1
            more(c, 1)
        cs = await _connect(port, conns, on_resp)
        for i, c in enumerate(cs):
            users[c] = 1 + i % N_USERS
            reqs[c] = []
        await asyncio.sleep(0.2)
        for c in cs:
            more(c, depth)
        await asyncio.sleep(1.0)                   # warm-up
        n0, t0 = counts["n"], time.perf_counter()
        await asyncio.sleep(seconds)
        n1, t1 = counts["n"], time.perf_counter()
        q.put({"rps": (n1 - n0) / (t1 - t0), "bad": sum(c.bad for c in cs)})
        for c in cs:
            c.transport.abort()
    uvloop.run(main())


def _ws_handshake(path="/ws"):
    return (f"GET {path} HTTP/1.1\r\nHost: b\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n").encode()


def _ws_frame(obj) -> bytes:
    data = json.dumps(obj).encode()
    mask = b"\x00\x00\x00\x00"
    n = len(data)
    head = bytes((0x81, 0x80 | n)) if n < 126 else bytes((0x81, 0x80 | 126)) + n.to_bytes(2, "big")
    return head + mask + data


class _WsCounter(asyncio.Protocol):
    """Raw WebSocket reader: counts frames; optionally decodes them for a callback."""

    def __init__(self, on_message=None):
        self.buf = bytearray()
        self.open = False
        self.frames = 0
        self.on_message = on_message
        self.transport = None
        self.opened = asyncio.get_running_loop().create_future()

    def connection_made(self, t):
        self.transport = t
        t.write(_ws_handshake())

    def data_received(self, data):
        buf = self.buf
        buf += data
        if not self.open:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                return
            del buf[:end + 4]
            self.open = True
            self.opened.set_result(True)
        i, n = 0, len(buf)
        now = time.perf_counter()
        while i + 2 <= n:
            ln = buf[i + 1] & 0x7F
            h = 2
            if ln == 126:
                if i + 4 > n:
                    break
                ln = int.from_bytes(buf[i + 2:i + 4], "big")
                h = 4
            elif ln == 127:
                if i + 10 > n:
                    break
                ln = int.from_bytes(buf[i + 2:i + 10], "big")
                h = 10
            if i + h + ln > n:
                break
            self.frames += 1
            if self.on_message is not None:
                self.on_message(bytes(buf[i + h:i + h + ln]), now)
            i += h + ln
        del buf[:i]


def http_open_loop(port: int, rate: float, seconds: float, conns: int, core: int, watch_uid: int, q: Queue):
    """Open-loop place orders at ``rate``/s; latency from due time to reply, and from due time to
    the first ``orders.<uid>`` update of the watched user's orders."""
    _pin(core)
    import uvloop

    from ringgate.sw.gateway.auth import sign

    async def main():
        loop = asyncio.get_running_loop()
        lat, upd = [], []
        pending: dict = {}
        due_by_cookie: dict = {}

        def on_resp(c, now):
            lat.append(now - pending[c].popleft())
        cs = await _connect(port, conns, on_resp)
        for c in cs:
            pending[c] = deque()
        # the watcher: authenticated as watch_uid, subscribed to its private topic
        seen = set()

        def on_msg(payload, now):
            # no JSON decode per message (the client must not be the bottleneck): find the cookie
            i = payload.find(b'"userCookie":')
            if i < 0 or not payload.startswith(b'{"topic":"orders.'):
                return
            j = payload.find(b",", i)
            ck = int(payload[i + 13:j])
            if ck in due_by_cookie and ck not in seen:
                seen.add(ck)
                upd.append(now - due_by_cookie[ck])
        _, w = await loop.create_connection(lambda: _WsCounter(on_msg), "127.0.0.1", port)
        await w.opened
        ts = int(time.time() * 1000)
        w.transport.write(_ws_frame({"op": "auth", "apiKey": f"bench{watch_uid}", "timestamp": ts,
                                     "signature": sign(f"secret{watch_uid}", ts, "GET", "/ws")}))
        w.transport.write(_ws_frame({"op": "subscribe", "topic": f"orders.{watch_uid}"}))
        total = int(rate * seconds)
        # pre-sign everything (outside the timed loop); cookies are global request indexes
        reqs = []
        for i in range(total):             # all from the watched user: every order updates its topic
            reqs.append((watch_uid, _orders(watch_uid, 1, i)[0]))
        await asyncio.sleep(0.3)
        t0 = time.perf_counter() + 0.05
        cpu0 = time.process_time()
        sent = 0
        while sent < total:
            now = time.perf_counter()
            due_n = min(total, int((now - t0) * rate) + 1) if now >= t0 else 0
            while sent < due_n:
                c = cs[sent % conns]
                due = t0 + sent / rate
                pending[c].append(due)
                uid, r = reqs[sent]
                if uid == watch_uid:
                    due_by_cookie[sent % 2**31] = due
                c.transport.write(r)
                sent += 1
            await asyncio.sleep(0.0002)
        end = time.perf_counter() + 5
        while len(lat) < total and time.perf_counter() < end:
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.1)
        q.put({"lat": lat, "upd": upd, "sent": total, "done": len(lat),
               "client_cpu": (time.process_time() - cpu0) / max(1e-9, time.perf_counter() - t0),
               "achieved": len(lat) / max(1e-9, (time.perf_counter() - t0)),
               "bad": sum(c.bad for c in cs)})
        for c in cs:
            c.transport.abort()
        w.transport.abort()
    uvloop.run(main())


def ws_fanout(port: int, subs: int, expect: int, core: int, q: Queue, ready: Queue):
    _pin(core)
    import uvloop

    async def main():
        loop = asyncio.get_running_loop()
        cs = []
        for _ in range(subs):
            _, p = await loop.create_connection(lambda: _WsCounter(), "127.0.0.1", port)
            cs.append(p)
        await asyncio.gather(*(c.opened for c in cs))
        for c in cs:
            c.transport.write(_ws_frame({"op": "subscribe", "topic": f"trades.{SYM}"}))
        await asyncio.sleep(0.5)
        base = sum(c.frames for c in cs)
        target = base + expect
        # the clock starts before the burst is requested: the command's trip to the server is
        # charged to the fan-out (conservative)
        t0 = time.perf_counter()
        ready.put(base)
        deadline = t0 + 60
        while time.perf_counter() < deadline:
            if sum(c.frames for c in cs) >= target:
                break
            await asyncio.sleep(0.0002)
        t1 = time.perf_counter()
        got = sum(c.frames for c in cs) - base
        q.put({"deliveries": got, "seconds": t1 - t0, "rate": got / max(1e-9, t1 - t0)})
        for c in cs:
            c.transport.abort()
    uvloop.run(main())


# ============================================================================ driver

def _pct(xs, p):
    if not xs:
        return float("nan")
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p / 100 * len(xs)))]


def _start_server(fsync: str):
    p = subprocess.Popen([sys.executable, "-m", "ringgate.app.perf.gateway", fsync],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    line = p.stdout.readline().split()
    assert line and line[0] == "READY", line
    return p, int(line[1]), int(line[2])


def _run(target, *args):
    q = Queue()
    pr = Process(target=target, args=args + (q,))
    pr.start()
    out = q.get(timeout=300)
    pr.join(30)
    return out


FSYNC_CHOICES = ("batch", "interval", "never", "memory")
STAGES = ("load", "hostile", "idle", "poll")


@click.command("gateway")
@click.option("--quick", is_flag=True, help="Short runs (smoke test).")
@click.option("--fsync", default="batch", show_default=True, type=click.Choice(FSYNC_CHOICES),
              help="Journal policy of the server under test (memory = no journal).")
@click.option("--stage", "stages", multiple=True, type=click.Choice(STAGES + ("all",)), default=("load",),
              show_default=True, help="What to measure (repeatable): load, hostile (memory per hostile "
              "connection), idle (serve's idle CPU), poll (ring-feed poll modes), all.")
@click.option("--json", "json_out", metavar="FILE", help="Write the results here.")
def command(**opts):
    """The REST/WebSocket gateway in its own process under load from another: throughput, open-loop
    latency, private updates, fan-out, memory; memory per hostile connection; idle CPU; poll modes."""
    run(**opts)


def run(quick: bool = False, fsync: str = "batch", json_out: str | None = None,
        stages: tuple = ("load",)) -> dict:
    """The chosen measurements; the results as a dict."""
    if "all" in stages:
        stages = STAGES
    res = {"fsync": fsync, "cores": os.cpu_count()}
    if "load" in stages:
        _load(res, quick, fsync)
    if "hostile" in stages:
        res["hostile"] = hostile(quick)
    if "idle" in stages:
        res["idle"] = idle_cpu(quick)
    if "poll" in stages:
        res["poll"] = poll_modes(quick)
    if json_out:
        with open(json_out, "w") as f:
            json.dump(res, f, indent=2)
    return res


def _load(res: dict, quick: bool, fsync: str) -> None:
    secs = 1.0 if quick else 5.0
    srv, port, pid = _start_server(fsync)
    try:
        time.sleep(0.5)
        res["idle_rss_mb"] = round(_rss_mb(pid), 1)
        print(f"server pid {pid} port {port}, fsync={fsync}; idle RSS {res['idle_rss_mb']} MB", flush=True)
        for depth in (1, 16):
            r = _run(cpu_per_order, 2000 if quick else 10000, depth, 0)
            res[f"cpu_us_per_order_d{depth}"] = round(r["cpu_us"], 1)
            print(f"server CPU per place order (no network, {depth} per read): {r['cpu_us']:.1f} us "
                  f"= {1e6 / r['cpu_us']:.0f} orders/s per core", flush=True)
        for conns, depth in ((1, 1), (16, 16), (64, 8)) if not quick else ((16, 16),):
            r = _run(http_closed_loop, port, conns, depth, secs, 1)
            res[f"closed_c{conns}_d{depth}_rps"] = round(r["rps"])
            res[f"closed_c{conns}_d{depth}_non2xx"] = r["bad"]
            print(f"closed loop  c={conns:3d} depth={depth:3d}: {r['rps']:9.0f} orders/s  (non-2xx {r['bad']})",
                  flush=True)
        for rate in ((1000, 2500, 5000, 20000) if not quick else (2000,)):
            r = _run(http_open_loop, port, rate, secs, 32, 1, 1)
            lat = [x * 1e3 for x in r["lat"]]
            upd = [x * 1e3 for x in r["upd"]]
            row = {k: round(_pct(lat, p), 3) for k, p in (("p50", 50), ("p90", 90), ("p99", 99), ("p999", 99.9))}
            row["max"] = round(max(lat), 3) if lat else None
            row["done"], row["sent"], row["non2xx"] = r["done"], r["sent"], r["bad"]
            row["update_p50"] = round(_pct(upd, 50), 3)
            row["update_p99"] = round(_pct(upd, 99), 3)
            row["updates"] = len(upd)
            row["client_cpu"] = round(r["client_cpu"], 2)      # share of a core the generator used
            res[f"open_{rate}"] = row
            print(f"open loop {rate:6d}/s: p50 {row['p50']:.3f} p90 {row['p90']:.3f} p99 {row['p99']:.3f} "
                  f"p99.9 {row['p999']:.3f} max {row['max']:.3f} ms ({row['done']}/{row['sent']} answered); "
                  f"private update p50 {row['update_p50']:.3f} p99 {row['update_p99']:.3f} ms "
                  f"({row['updates']} updates); load generator used {row['client_cpu']:.0%} of a core", flush=True)
        for subs, msgs, per_tick in (((100, 20000, 100), (1000, 2000, 100)) if not quick else ((10, 2000, 100),)):
            q, ready = Queue(), Queue()
            pr = Process(target=ws_fanout, args=(port, subs, subs * msgs, 1, q, ready))
            pr.start()
            ready.get(timeout=60)
            srv.stdin.write(f"burst trades.{SYM} {msgs} {per_tick} 100\n")
            srv.stdin.flush()
            r = q.get(timeout=120)
            pr.join(30)
            res[f"ws_fanout_n{subs}"] = {"deliveries_per_s": round(r["rate"]), "deliveries": r["deliveries"],
                                         "expected": subs * msgs}
            print(f"WS fan-out N={subs:5d}: {r['rate']:10.0f} deliveries/s ({r['deliveries']}/{subs * msgs} "
                  f"in {r['seconds']:.2f} s, {per_tick} messages per loop tick)", flush=True)
        res["rss_after_mb"] = round(_rss_mb(pid), 1)
        print(f"server RSS after the runs: {res['rss_after_mb']} MB", flush=True)
    finally:
        _quit(srv)


def _quit(srv):
    try:
        srv.stdin.write("quit\n")
        srv.stdin.flush()
        srv.wait(20)
    except Exception:
        srv.kill()


# ============================================================================ memory per hostile connection

_ATTACKS = (
    # (key, description, connections, connections in quick mode)
    ("tcp_idle", "idle TCP connection", 200, 10),
    ("get_flood", "3,000 pipelined GET /openapi.json, never reads", 100, 10),
    ("cancel_flood", "2,000 pipelined signed cancels (sequenced), never reads", 100, 10),
    ("slowloris", "15 KiB of headers, never finished", 100, 10),
    ("body", "60 KiB of a 64 KiB body, never finished", 100, 10),
    ("ws_idle", "WebSocket, authenticated, idle", 200, 10),
    ("ws_flood", "WebSocket subscribe/unsubscribe flood, never reads", 100, 10),
    ("ws_slow", "WebSocket subscriber of a busy topic, never reads", 50, 5),
)


def _send_what_fits(s, data: bytes) -> int:
    """Non-blocking: hand the kernel what it takes now (a client that writes and never reads)."""
    s.setblocking(False)
    sent = 0
    try:
        while sent < len(data):
            sent += s.send(data[sent:sent + 65536])
    except (BlockingIOError, OSError):
        pass
    return sent


def _attack(port: int, kind: str, n: int, core: int, q: Queue, go: Queue):
    """Open ``n`` connections doing ``kind``; report when done; close them on "close"."""
    import socket
    _pin(core)
    from ringgate.sw.gateway.auth import sign
    socks = []
    ws_topic = f"trades.{SYM}" if kind == "ws_slow" else None
    for i in range(n):
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)     # the kernel absorbs little
        s.connect(("127.0.0.1", port))
        socks.append(s)
        uid = 1 + i % N_USERS
        if kind == "get_flood":
            _send_what_fits(s, b"GET /openapi.json HTTP/1.1\r\nHost: b\r\n\r\n" * 3000)
        elif kind == "cancel_flood":                 # through auth and the sequencer, no book growth
            _send_what_fits(s, b"".join(_cancels(uid, 2000, i * 2000)))
        elif kind == "slowloris":
            s.sendall(b"GET /syncTradeApi/v1/ping HTTP/1.1\r\nHost: b\r\n" + b"X-Pad: " + b"a" * 15000 + b"\r\n")
        elif kind == "body":
            s.sendall(b"POST /syncTradeApi/v1/ping HTTP/1.1\r\nHost: b\r\nContent-Length: 65536\r\n\r\n"
                      + b"x" * 60000)
        elif kind.startswith("ws_"):
            ts = int(time.time() * 1000)
            s.sendall(_ws_handshake().replace(b"\r\n\r\n", (
                f"\r\nX-RG-APIKEY: bench{uid}\r\nX-RG-TIMESTAMP: {ts}\r\n"
                f"X-RG-SIGNATURE: {sign(f'secret{uid}', ts, 'GET', '/ws')}\r\n\r\n").encode()))
            s.settimeout(10)
            head = b""
            while b"\r\n\r\n" not in head:
                head += s.recv(4096)
            if kind == "ws_flood":
                pair = _ws_frame({"op": "subscribe", "topic": f"depth.{SYM}"}) + \
                    _ws_frame({"op": "unsubscribe", "topic": f"depth.{SYM}"})
                _send_what_fits(s, pair * 20000)
            elif ws_topic:
                s.sendall(_ws_frame({"op": "subscribe", "topic": ws_topic}))
    q.put("sent")
    go.get(timeout=300)
    for s in socks:
        s.close()
    q.put("closed")


def hostile(quick: bool = False) -> dict:
    """Server memory per hostile connection: for each kind of abuse a fresh server, ``n`` client
    sockets doing it (4 KiB receive buffers, never reading), the server's RSS sampled every 50 ms
    until it has not grown for ``settle`` seconds (the server may need a while to take in all that
    the clients sent); (peak RSS - RSS before) / n."""
    settle, longest = (1.0, 5.0) if quick else (3.0, 60.0)
    out = {}
    print("memory per hostile connection (server RSS growth / connections; kernel socket buffers are "
          "not in RSS):", flush=True)
    for key, desc, n_full, n_quick in _ATTACKS:
        n = n_quick if quick else n_full
        srv, port, pid = _start_server("memory")
        try:
            time.sleep(0.5)
            base = _rss_mb(pid)
            q, go = Queue(), Queue()
            pr = Process(target=_attack, args=(port, key, n, 1, q, go))
            pr.start()
            q.get(timeout=120)
            if key == "ws_slow":                 # 40,000 x 200-byte updates: ~9 MB for each subscriber
                srv.stdin.write(f"burst trades.{SYM} 40000 100 200\n")
                srv.stdin.flush()
            peak = base
            start = grew = time.monotonic()
            while time.monotonic() - grew < settle and time.monotonic() - start < longest:
                now = _rss_mb(pid)
                if now > peak + 0.1:
                    grew = time.monotonic()
                peak = max(peak, now)
                time.sleep(0.05)
            final = _rss_mb(pid)
            go.put("close")
            q.get(timeout=60)
            pr.join(30)
            row = {"connections": n, "kib_per_conn_peak": round((peak - base) * 1024 / n, 1),
                   "kib_per_conn_end": round((final - base) * 1024 / n, 1), "rss_before_mb": round(base, 1),
                   "rss_peak_mb": round(peak, 1)}
            out[key] = row
            print(f"  {desc:55s} x{n:4d}: peak {row['kib_per_conn_peak']:8.1f} KiB/conn "
                  f"(RSS {row['rss_before_mb']} -> {row['rss_peak_mb']} MB)", flush=True)
        finally:
            _quit(srv)
    return out


# ============================================================================ idle serve CPU

_IDLE_SETUPS = (("none", "adaptive"), ("model", "adaptive"), ("model", "sleep"), ("model", "busy"))


def _proc_cpu(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        parts = f.read().rsplit(")", 1)[1].split()
    return (int(parts[11]) + int(parts[12])) / os.sysconf("SC_CLK_TCK")


def idle_cpu(quick: bool = False) -> dict:
    """CPU share of an idle ``ringgate serve`` (demo market, in memory): without a ring backend,
    and with the model backend in each poll mode."""
    secs = 2.0 if quick else 10.0
    out = {}
    setups = _IDLE_SETUPS[:2] if quick else _IDLE_SETUPS
    for backend, poll in setups:
        with tempfile.TemporaryDirectory() as d:
            creds = os.path.join(d, "c.json")
            p = subprocess.Popen([sys.executable, "-m", "ringgate.sw.gateway.cli", "--port", "0", "--backend",
                                  backend, "--poll", poll, "--credentials-file", creds],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                deadline = time.monotonic() + 60
                while not os.path.exists(creds) and time.monotonic() < deadline:
                    time.sleep(0.05)
                time.sleep(1.0)
                c0, t0 = _proc_cpu(p.pid), time.monotonic()
                time.sleep(secs)
                share = (_proc_cpu(p.pid) - c0) / (time.monotonic() - t0)
            finally:
                p.terminate()
                p.wait(20)
        key = f"{backend}_{poll}" if backend != "none" else "none"
        out[key] = round(100 * share, 2)
        print(f"idle serve, backend {backend:5s}{'' if backend == 'none' else ', ' + poll + ' polling':20s}: "
              f"{100 * share:6.2f}% of a core over {secs:g} s", flush=True)
    return out


# ============================================================================ ring-feed poll modes

def _poll_run(mode: str, gaps: list[float], q: Queue):
    """One consumer in ``mode`` on the model device; a feeder thread feeds one entry after each gap.
    Latency: feed (after the feeder got the GIL) -> the consumer's callback."""
    import numpy as np

    from ringgate.contracts.entry import ENTRY_DTYPE
    from ringgate.sw.driver.consumer import RingConsumer
    from ringgate.sw.driver.device import ModelDevice
    sys.setswitchinterval(SWITCH_INTERVAL)              # as serve sets it
    dev = ModelDevice(depth=1024)
    fed: list[int] = []
    seen: list[int] = []

    def cb(view):
        now = time.perf_counter_ns()
        seen.extend([now] * len(view))
    c = RingConsumer.open(dev, 1024, callback=cb, poll=mode)
    done = threading.Event()
    cpu = {}

    def consume():
        t0 = time.thread_time()
        c.run(stop=done.is_set)
        cpu["s"] = time.thread_time() - t0
    t = threading.Thread(target=consume)
    t.start()
    e = np.zeros(1, ENTRY_DTYPE)
    e["cmd"] = 1
    w0 = time.perf_counter()
    for gap in gaps:
        time.sleep(gap)
        fed.append(time.perf_counter_ns())
        dev.feed(e.copy())
    end = time.monotonic() + 5
    while len(seen) < len(gaps) and time.monotonic() < end:
        time.sleep(0.001)
    wall = time.perf_counter() - w0
    done.set()
    t.join(10)
    lat = [(b - a) / 1e3 for a, b in zip(fed, seen)]
    q.put({"lat_us": lat, "cpu": cpu.get("s", 0.0) / wall, "sleeps": c.sleeps})


def poll_modes(quick: bool = False) -> dict:
    """Wake-up latency and CPU of the ring consumer per poll mode, after short quiet spells (50-200
    us: inside adaptive's spin/yield window) and long ones (2-20 ms: it is asleep)."""
    import random
    rng = random.Random(7)
    n = 100 if quick else 1000
    patterns = {"short_gaps": [rng.uniform(50e-6, 200e-6) for _ in range(n)],
                "long_gaps": [rng.uniform(2e-3, 20e-3) for _ in range(n // 4)]}
    out = {}
    print("ring feed wake-up (feed -> consumer callback, model backend, one entry per gap):", flush=True)
    for mode in ("busy", "adaptive", "sleep"):
        for name, gaps in patterns.items():
            r = _run(_poll_run, mode, gaps)
            lat = r["lat_us"]
            row = {"p50_us": round(_pct(lat, 50), 1), "p99_us": round(_pct(lat, 99), 1),
                   "max_us": round(max(lat), 1) if lat else None, "samples": len(lat),
                   "consumer_cpu_pct": round(100 * r["cpu"], 1)}
            out[f"{mode}_{name}"] = row
            print(f"  {mode:8s} {name:10s}: p50 {row['p50_us']:8.1f} us  p99 {row['p99_us']:8.1f} us  "
                  f"max {row['max_us']:8.1f} us  consumer thread {row['consumer_cpu_pct']:5.1f}% of a core",
                  flush=True)
    return out

if __name__ == "__main__":          # the server child of _start_server
    serve_child(sys.argv[1], 0)
