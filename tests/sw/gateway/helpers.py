"""Gateway fixtures: a real gateway (uvloop, real socket) in a background thread, set up through
its own admin API with exchange-gateway-rest's test market (XBTC scale 8, USDT scale 2, lot 0.1,
step 0.01, taker 0.08, maker 0.03), and signing clients."""
from __future__ import annotations

import itertools
import json
import os
import socket

from ringgate.sw.exchange import Exchange
from ringgate.sw.gateway.app import Gateway, run_in_thread
from ringgate.sw.gateway.client import Client, signed_headers

A = "/syncAdminApi/v1"
T = "/syncTradeApi/v1"
SYM = "XBTC_USDT"
_uids = itertools.count(100)


class Env:
    def __init__(self, gw, port, admin):
        self.gw = gw
        self.port = port
        self.admin = admin            # Client with the admin key
        self.public = Client("127.0.0.1", port)

    def user(self, funded: bool = True, usdt: str = "100000.00", xbtc: str = "100"):
        """A fresh uid with its own API key (and balances); returns its signing Client."""
        uid = next(_uids)
        st, body = self.admin.post(f"{A}/users", {"uid": uid})
        assert st == 201 and body["coreResultCode"] == 100, body
        st, key = self.admin.post(f"{A}/users/{uid}/apikeys")
        assert st == 201, key
        c = Client("127.0.0.1", self.port, key["data"]["apiKey"], key["data"]["secret"])
        c.uid = uid
        if funded:
            for tx, (cur, amount) in enumerate((("USDT", usdt), ("XBTC", xbtc)), 1):
                st, body = self.admin.post(f"{A}/users/{uid}/accounts",
                                           {"transactionId": tx, "amount": amount, "currency": cur})
                assert st == 201, body
        return c


def setup_market(admin: Client):
    for code, aid, scale in (("XBTC", 1, 8), ("USDT", 2, 2), ("ETH", 3, 6)):
        st, body = admin.post(f"{A}/assets", {"assetCode": code, "assetId": aid, "scale": scale})
        assert st == 201, body
    st, body = admin.post(f"{A}/symbols", {
        "symbolId": 10, "symbolCode": SYM, "symbolType": "CURRENCY_EXCHANGE_PAIR", "baseAsset": "XBTC",
        "quoteCurrency": "USDT", "lotSize": 0.1, "stepSize": 0.01, "takerFee": 0.08, "makerFee": 0.03,
        "marginBuy": 0, "marginSell": 0, "priceHighLimit": 0, "priceLowLimit": 0})
    assert st == 201, body
    # a second pair with limits and a step above one minor unit
    st, body = admin.post(f"{A}/symbols", {
        "symbolId": 11, "symbolCode": "ETH_USDT", "symbolType": "CURRENCY_EXCHANGE_PAIR", "baseAsset": "ETH",
        "quoteCurrency": "USDT", "lotSize": "0.01", "stepSize": "0.05", "takerFee": "0.10", "makerFee": "0.05",
        "priceHighLimit": "50.00", "priceLowLimit": "10.00"})
    assert st == 201, body


def start_env(exchange_factory=Exchange.in_memory, meta_dir=None, **kw):
    holder = {}

    def make():
        gw = Gateway(exchange_factory(), meta_dir=meta_dir, **kw)
        holder["admin"] = gw.add_key(0, "admin")
        return gw
    gw, port, stop = run_in_thread(make)
    k = holder["admin"]
    admin = Client("127.0.0.1", port, k.api_key, k.secret)
    return Env(gw, port, admin), stop




# ----------------------------------------------------------------------------- raw sockets

def read_responses(s: socket.socket, n: int, timeout: float = 5.0) -> list[tuple[int, dict, bytes]]:
    """Parse ``n`` responses (Content-Length framed) from a raw socket."""
    s.settimeout(timeout)
    buf = b""
    out = []
    while len(out) < n:
        while b"\r\n\r\n" not in buf:
            chunk = s.recv(65536)
            if not chunk:
                raise ConnectionError(f"closed after {len(out)} responses; buffer {buf[:200]!r}")
            buf += chunk
        head, buf = buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {k.lower(): v.strip() for k, v in (ln.split(":", 1) for ln in lines[1:])}
        length = int(headers["content-length"])
        while len(buf) < length:
            chunk = s.recv(65536)
            if not chunk:
                raise ConnectionError("closed mid-body")
            buf += chunk
        out.append((status, headers, buf[:length]))
        buf = buf[length:]
    return out


def closed(s: socket.socket, timeout: float = 5.0) -> bool:
    s.settimeout(timeout)
    try:
        while True:
            if not s.recv(65536):
                return True
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False


def raw(port):
    return socket.create_connection(("127.0.0.1", port))


def signed_request(c, method: str, path: str, body: dict | bytes | None = None,
                   content_type: str = "application/json") -> bytes:
    """The bytes of a request signed with client ``c``'s key (``body`` as JSON, or raw bytes)."""
    data = body if isinstance(body, bytes) else json.dumps(body).encode() if body is not None else b""
    h = signed_headers(c.api_key, c.secret, method, path, data)
    hdr = "".join(f"{k}: {v}\r\n" for k, v in h.items())
    ct = f"Content-Type: {content_type}\r\n" if data else ""
    return (f"{method} {path} HTTP/1.1\r\nHost: x\r\n{hdr}{ct}Content-Length: {len(data)}\r\n\r\n").encode() + data


class Serve:
    """``ringgate serve`` in a subprocess on a journal directory (demo market), as an operator runs it."""

    def __init__(self, journal, *args, name="serve"):
        import subprocess
        import sys
        import time
        from pathlib import Path
        stem = Path(journal).parent / f"{name}-{os.getpid()}-{time.monotonic_ns()}"
        self.creds_file = stem.with_suffix(".json")
        self.log = stem.with_suffix(".log")
        with open(self.log, "w") as out:           # a file, not a pipe: a chatty server never blocks
            self.p = subprocess.Popen([sys.executable, "-m", "ringgate.sw.gateway.cli", "--port", "0",
                                       "--journal-dir", str(journal), "--credentials-file", str(self.creds_file),
                                       *args], stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while not (self.creds_file.exists() and self.creds_file.read_text().strip().endswith("}")):
            if self.p.poll() is not None or time.monotonic() > deadline:
                self.kill9()
                raise RuntimeError(f"serve did not start: {self.log.read_text()}")
            time.sleep(0.05)
        self.creds = json.loads(self.creds_file.read_text())
        self.port = int(self.creds["url"].rsplit(":", 1)[1])
        self.admin = Client("127.0.0.1", self.port, self.creds["admin"]["apiKey"], self.creds["admin"]["secret"])

    def user(self, uid: int) -> Client:
        k = self.creds["users"][str(uid)]
        c = Client("127.0.0.1", self.port, k["apiKey"], k["secret"])
        c.uid = uid
        return c

    def kill9(self):
        if self.p.poll() is None:
            self.p.kill()
        self.p.wait(10)

    def stop(self) -> str:
        """SIGTERM, wait; returns everything the server printed."""
        import signal
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
        try:
            self.p.wait(20)
        except Exception:
            self.kill9()
        return self.log.read_text()


def ws_client(port, **kw):
    """A websockets sync client on ``/ws`` (closed by the caller)."""
    from websockets.sync.client import connect
    return connect(f"ws://127.0.0.1:{port}/ws", open_timeout=5, **kw).__enter__()


def ws_connect(port, headers: dict | None = None, rcvbuf: int | None = None) -> tuple[socket.socket, bytes]:
    """A raw WebSocket client socket after the handshake; returns (socket, the 101 response head)."""
    s = socket.socket()
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.connect(("127.0.0.1", port))
    extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
    s.sendall(("GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
               f"{extra}\r\n").encode())
    s.settimeout(5)
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = s.recv(4096)
        if not chunk:
            break
        head += chunk
    return s, head


def ws_frame(payload: bytes | dict, opcode: int = 1, fin: bool = True) -> bytes:
    """A masked client frame (RFC 6455 5.2)."""
    if isinstance(payload, dict):
        payload = json.dumps(payload).encode()
    mask = os.urandom(4)
    n = len(payload)
    head = bytes(((0x80 if fin else 0) | opcode,))
    if n < 126:
        head += bytes((0x80 | n,))
    elif n < 65536:
        head += bytes((0x80 | 126,)) + n.to_bytes(2, "big")
    else:
        head += bytes((0x80 | 127,)) + n.to_bytes(8, "big")
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
