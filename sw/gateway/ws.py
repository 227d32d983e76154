"""WebSocket endpoint and topic hub.

The handshake and everything a client sends (masked frames, fragmentation, ping / pong, close)
go through ``websockets``' Sans-I/O ``ServerProtocol``, so protocol correctness is a maintained
library's; fragments are reassembled here and a text message that is not UTF-8 closes the
connection with 1007 (RFC 6455 section 8.1). What the server pushes is written directly: server
frames are unmasked, so one message on one topic is the same bytes for every subscriber and is
framed once.

Fan-out is coalesced: ``publish`` only appends the frame to each subscriber's buffer, and one
``flush`` per event-loop tick writes each connection's buffer with a single ``transport.write``
(the measured way past the ~220k deliveries/s bound of one send per subscriber per message).

Memory per connection is bounded whatever the client does (:class:`WsLimits`):

* frames wait in a per-connection queue for the end of the tick, or are written as soon as
  ``WRITE_AT`` bytes are queued (a burst); when the transport then holds more than ``max_buffer``
  unsent bytes the connection is cut off at once (transport aborted), so a slow reader never holds
  more than ``max_buffer + WRITE_AT`` plus one frame and never slows the others;
* what a client asks for (replies, snapshots) is produced only while its unsent bytes are under
  ``reply_budget``: beyond it, its input waits unparsed and reading pauses (it is parsed
  ``read_slice`` bytes at a time), so a subscribe / unsubscribe flood cannot outrun its reader;
* nothing read for ``write_timeout`` seconds with data waiting: cut off;
* connections in all, per peer address and unauthenticated ones are capped (the rest of the
  slots stay for clients that authenticate in the upgrade request); a connection that has
  neither authenticated nor subscribed within ``auth_timeout`` seconds is closed (1008).

Messages to clients: ``{"topic", "seq", "type": "snapshot" | "update", "data"}``. ``seq`` counts
the updates of that topic since the server started; a snapshot carries the seq of the last
update it includes, so the next update a client sees must be ``seq + 1`` — a gap is visible.
"""
from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from typing import Callable

import msgspec
from websockets.frames import Opcode
from websockets.http11 import Request as WsRequest
from websockets.protocol import State
from websockets.server import ServerProtocol

from .errors import ApiError, GwCode

__all__ = ["Hub", "WsConnection", "WsLimits", "frame_text"]

_log = logging.getLogger(__name__)
_encode = msgspec.json.Encoder(decimal_format="number").encode
WRITE_AT = 64 * 1024        # queued bytes that are written at once instead of at the end of the tick


def frame_text(payload: bytes) -> bytes:
    """An unmasked, unfragmented server text frame (RFC 6455 section 5.2)."""
    n = len(payload)
    if n < 126:
        return bytes((0x81, n)) + payload
    if n < 65536:
        return bytes((0x81, 126)) + n.to_bytes(2, "big") + payload
    return bytes((0x81, 127)) + n.to_bytes(8, "big") + payload


class WsLimits:
    """WebSocket limits.

    Members
    -------
    max_message : int
        Bytes of one client message (fragments included); beyond: close 1009.
    max_topics : int
        Subscriptions per connection.
    max_connections, max_per_address : int
        Connections in all and from one peer address; beyond: close 1013.
    max_anonymous : int
        Connections that have not authenticated (default three quarters of ``max_connections``);
        a client that signs its upgrade request (``X-RG-*`` headers) is never refused for it.
    max_buffer : int
        Unsent bytes before the connection is cut off.
    reply_budget : int
        Unsent bytes beyond which the client's own requests wait (default ``max_buffer // 4``).
    auth_timeout : float
        Seconds an unauthenticated connection may go without a subscription.
    write_timeout : float
        Seconds the transport may stay above its high-water mark before the connection is cut off.
    read_slice : int
        Client input is parsed this many bytes at a time.
    """

    def __init__(self, max_message: int = 64 * 1024, max_topics: int = 256, max_connections: int = 4096,
                 max_per_address: int = 256, max_anonymous: int | None = None, max_buffer: int = 4 * 1024 * 1024,
                 reply_budget: int | None = None, auth_timeout: float = 5.0, write_timeout: float = 30.0,
                 read_slice: int = 4096):
        self.max_message = max_message
        self.max_topics = max_topics
        self.max_connections = max_connections
        self.max_per_address = max_per_address
        self.max_anonymous = max_anonymous if max_anonymous is not None else max_connections * 3 // 4
        self.max_buffer = max_buffer
        self.reply_budget = reply_budget if reply_budget is not None else max_buffer // 4
        self.auth_timeout = auth_timeout
        self.write_timeout = write_timeout
        self.read_slice = read_slice


class Topic:
    __slots__ = ("name", "seq", "subs")

    def __init__(self, name: str):
        self.name = name
        self.seq = 0
        self.subs: set = set()


class ClientOp(msgspec.Struct, forbid_unknown_fields=True):
    op: str
    id: int | None = None
    topic: str | None = None
    topics: list[str] | None = None
    apiKey: str | None = None
    timestamp: int | None = None
    signature: str | None = None


_decode_op = msgspec.json.Decoder(ClientOp).decode


def _nothing(*_):
    return None


class Hub:
    """Topics, subscriptions, connection admission and the coalesced flush.

    ``authorize(conn, topic)`` raises ApiError when the connection may not subscribe;
    ``snapshot(conn, topic)`` returns the snapshot's data; ``authenticate(conn, op)`` returns the
    key of an auth message or raises ApiError.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, limits: WsLimits | None = None, *,
                 authorize: Callable = _nothing, snapshot: Callable = _nothing, authenticate: Callable = _nothing):
        self.loop = loop
        self.limits = limits or WsLimits()
        self.topics: dict[str, Topic] = {}
        self.conns: set[WsConnection] = set()
        self.dirty: set[WsConnection] = set()
        self.per_address: dict[str, int] = {}
        self.anonymous = 0
        self.authorize = authorize
        self.snapshot = snapshot
        self.authenticate = authenticate
        self._flush_scheduled = False
        self._ticker: asyncio.TimerHandle | None = None
        self.published = self.delivered = self.cut_off = self.refused = 0
        self.timed_out = self.stalled = self.invalid = 0
        # latency probes: (conn, frames) right after a connection's frames were handed to its
        # transport (the moment "WebSocket frame written"); None costs one attribute test per write
        self.on_written: Callable | None = None

    # ------------------------------------------------------------------ lifecycle

    def start(self):
        lim = self.limits
        period = max(0.05, min(1.0, lim.auth_timeout / 4, lim.write_timeout / 4))

        def tick():
            self.tick(time.monotonic())
            self._ticker = self.loop.call_later(period, tick)
        self._ticker = self.loop.call_later(period, tick)

    def close(self):
        if self._ticker is not None:
            self._ticker.cancel()
            self._ticker = None
        for c in list(self.conns):
            c.transport.abort()
            self.drop(c)

    def tick(self, now: float):
        """Enforce the authentication and write-stall timeouts."""
        lim = self.limits
        for c in list(self.conns):
            if c.write_paused and now - c.write_paused > lim.write_timeout:
                self.stalled += 1
                c.cut_off("nothing read for too long")
            elif c.bare_since and now - c.bare_since > lim.auth_timeout:
                self.timed_out += 1
                c.close(1008, f"authenticate or subscribe within {lim.auth_timeout:g} s")

    def admit(self, conn: "WsConnection") -> str | None:
        """Count ``conn`` in, or say why it is refused."""
        lim = self.limits
        if len(self.conns) >= lim.max_connections:
            return "too many WebSocket connections"
        if self.per_address.get(conn.addr, 0) >= lim.max_per_address:
            return f"too many WebSocket connections from {conn.addr} (at most {lim.max_per_address})"
        if conn.key is None:
            if self.anonymous >= lim.max_anonymous:
                return "too many unauthenticated connections: sign the upgrade request (X-RG-* headers)"
            self.anonymous += 1
        self.conns.add(conn)
        self.per_address[conn.addr] = self.per_address.get(conn.addr, 0) + 1
        return None

    def drop(self, conn: "WsConnection"):
        for name in conn.topics:
            t = self.topics.get(name)
            if t is not None:
                t.subs.discard(conn)
        conn.topics.clear()
        self.dirty.discard(conn)
        if conn in self.conns:
            self.conns.discard(conn)
            if conn.key is None:
                self.anonymous -= 1
            n = self.per_address.get(conn.addr, 1) - 1
            if n:
                self.per_address[conn.addr] = n
            else:
                self.per_address.pop(conn.addr, None)

    def authenticated(self, conn: "WsConnection", key):
        if conn.key is None and conn in self.conns:
            self.anonymous -= 1
        conn.key = key
        conn.bare_since = 0.0

    # ------------------------------------------------------------------ topics

    def topic(self, name: str) -> Topic:
        t = self.topics.get(name)
        if t is None:
            t = self.topics[name] = Topic(name)
        return t

    def has_subscribers(self, name: str) -> bool:
        t = self.topics.get(name)
        return t is not None and bool(t.subs)

    def publish(self, name: str, data) -> int:
        """Queue one update; returns its topic sequence number. Encoded only if someone listens."""
        t = self.topics.get(name)
        if t is None:
            t = self.topics[name] = Topic(name)
        t.seq += 1
        self.published += 1
        subs = t.subs
        if subs:
            frame = frame_text(_encode({"topic": name, "seq": t.seq, "type": "update", "data": data}))
            n = len(frame)
            full = None
            for c in subs:
                c.out.append(frame)
                c.out_bytes += n
                if c.out_bytes >= WRITE_AT:
                    full = [c] if full is None else full + [c]
            self.delivered += len(subs)
            self.dirty |= subs
            if not self._flush_scheduled:
                self._flush_scheduled = True
                self.loop.call_soon(self.flush)
            if full:
                # a burst: hand it to the transport now (the kernel takes what a reader keeps up
                # with), so queued frames never hold more than WRITE_AT per connection
                for c in full:
                    c.write_out()
        return t.seq

    def publish_lazy(self, name: str, make) -> int:
        """As :meth:`publish`, but ``make()`` builds the data only when someone listens; the
        topic's sequence counts either way, so a later subscriber sees consistent numbers."""
        t = self.topics.get(name)
        if t is None or not t.subs:
            if t is None:
                t = self.topics[name] = Topic(name)
            t.seq += 1
            self.published += 1
            return t.seq
        return self.publish(name, make())

    def schedule_flush(self, conn: "WsConnection"):
        self.dirty.add(conn)
        if not self._flush_scheduled:
            self._flush_scheduled = True
            self.loop.call_soon(self.flush)

    def flush(self):
        self._flush_scheduled = False
        dirty, self.dirty = self.dirty, set()
        for c in dirty:
            c.flush()

    def subscribe(self, conn: "WsConnection", name: str):
        t = self.topic(name)
        if conn in t.subs:
            return
        data = self.snapshot(conn, name)
        t.subs.add(conn)
        conn.topics.add(name)
        conn.bare_since = 0.0
        conn.send_raw(frame_text(_encode({"topic": name, "seq": t.seq, "type": "snapshot", "data": data})))

    def unsubscribe(self, conn: "WsConnection", name: str) -> bool:
        t = self.topics.get(name)
        conn.topics.discard(name)
        if conn.key is None and not conn.topics:
            conn.bare_since = time.monotonic()
        if t is None or conn not in t.subs:
            return False
        t.subs.discard(conn)
        return True


class WsConnection(asyncio.Protocol):
    """One WebSocket client after the upgrade.

    Members
    -------
    key : auth.Key or None
        The API key it authenticated with (upgrade headers or an ``auth`` message).
    topics : set[str]
    out, out_bytes, wbuf, peak
        Frames queued for the next flush, their size, the transport's buffer at the last flush, and
        the most unsent bytes seen.
    """

    def __init__(self, hub: Hub, transport: asyncio.Transport, path: str, headers: dict[str, str], key=None):
        self.hub = hub
        self.transport = transport
        lim = hub.limits
        self.proto = ServerProtocol(max_size=lim.max_message)
        self.out: list[bytes] = []
        self.out_bytes = 0
        self.wbuf = 0
        self.peak = 0                    # most unsent bytes seen (queued + transport buffer)
        self.topics: set[str] = set()
        self.key = key
        self.closed = False
        self.held = False
        self.inbox = b""                 # received, not parsed yet
        self.inpos = 0
        self.events: deque = deque()     # parsed frames not handled yet (at most one slice's)
        self.frag: list[bytes] | None = None
        self.frag_op = None
        self.write_paused = 0.0
        self.bare_since = time.monotonic() if key is None else 0.0
        peer = transport.get_extra_info("peername")
        self.addr = peer[0] if isinstance(peer, tuple) else peer
        # hand the (already parsed) upgrade request to the Sans-I/O protocol through its public
        # input, so its own parser validates the handshake and then switches to frames
        raw = f"GET {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
        self.proto.receive_data(raw.encode("latin-1"))
        reqs = [e for e in self.proto.events_received() if isinstance(e, WsRequest)]
        if not reqs:
            res = self.proto.reject(400, "bad WebSocket handshake\n")
        else:
            res = self.proto.accept(reqs[0])
        self.proto.send_response(res)
        self.accepted = res.status_code == 101
        self._write_protocol()
        if not self.accepted:
            self.closed = True
            transport.close()
            return
        refused = hub.admit(self)
        if refused is not None:
            hub.refused += 1
            self.close(1013, refused)
            return
        transport.set_write_buffer_limits(high=lim.reply_budget, low=lim.reply_budget // 4)

    # ------------------------------------------------------------------ transport

    def connection_made(self, transport):       # not called after set_protocol; kept for clarity
        pass

    def connection_lost(self, exc):
        self.closed = True
        self.inbox = b""
        self.events.clear()
        self.hub.drop(self)

    def pause_writing(self):
        self.write_paused = time.monotonic()

    def resume_writing(self):
        self.write_paused = 0.0
        self.pump()

    def data_received(self, data: bytes):
        if self.closed:
            return
        if self.inbox:
            self.inbox = self.inbox[self.inpos:] + data
            self.inpos = 0
        else:
            self.inbox = data
        self.pump()

    def eof_received(self):
        self.proto.receive_eof()
        return False

    def pump(self):
        """Handle the client's input while its unsent data is under the reply budget; otherwise
        leave the rest unparsed and stop reading until the client has read."""
        budget = self.hub.limits.reply_budget
        step = self.hub.limits.read_slice
        proto = self.proto
        while not self.closed:
            if self.out_bytes + self.transport.get_write_buffer_size() > budget:
                if not self.held:
                    self.held = True
                    self.transport.pause_reading()
                return
            if self.events:
                self._frame(self.events.popleft())
                continue
            if self.inpos < len(self.inbox):
                chunk = self.inbox[self.inpos:self.inpos + step]
                self.inpos += len(chunk)
                if self.inpos >= len(self.inbox):
                    self.inbox, self.inpos = b"", 0
                proto.receive_data(chunk)
                self.events.extend(proto.events_received())
                self._write_protocol()
                if proto.state is State.CLOSED or proto.close_expected():
                    self._closed_by_protocol()
                    return
                continue
            break
        if self.held and not self.closed:
            self.held = False
            self.transport.resume_reading()

    def _closed_by_protocol(self):
        exc = self.proto.parser_exc
        if isinstance(exc, UnicodeDecodeError):
            self.hub.invalid += 1
        self.closed = True
        self.hub.drop(self)
        self.transport.close()

    def _write_protocol(self):
        for chunk in self.proto.data_to_send():
            if chunk:
                self.transport.write(chunk)

    def send_raw(self, frame: bytes):
        self.out.append(frame)
        self.out_bytes += len(frame)
        self.hub.schedule_flush(self)
        if self.out_bytes >= WRITE_AT:
            self.write_out()

    def write_out(self):
        """Write what is queued; cut the client off if its unsent bytes pass ``max_buffer``."""
        if self.closed or not self.out:
            self.out.clear()
            self.out_bytes = 0
            return
        out, self.out = self.out, []
        queued = self.out_bytes + self.wbuf
        if queued > self.peak:
            self.peak = queued
        self.out_bytes = 0
        self.transport.write(b"".join(out) if len(out) > 1 else out[0])
        if self.hub.on_written is not None:
            self.hub.on_written(self, out)
        self.wbuf = self.transport.get_write_buffer_size()
        if self.wbuf > self.hub.limits.max_buffer:
            self.cut_off(f"{self.wbuf} bytes unsent")

    def flush(self):
        self.write_out()
        if self.held and not self.write_paused and not self.closed:
            self.pump()

    def cut_off(self, why: str):
        """Drop a client that does not keep up: the transport is aborted, nothing more is queued."""
        if self.closed:
            return
        self.hub.cut_off += 1
        _log.info("cutting off WebSocket client %s: %s", self.addr, why)
        self.closed = True
        self.out.clear()
        self.out_bytes = 0
        self.hub.drop(self)
        self.transport.abort()

    def close(self, code: int, reason: str):
        """Close handshake from our side with ``code`` and ``reason``, then close the transport."""
        if self.closed:
            return
        if self.proto.state is State.OPEN:
            # a close frame is a control frame: 125 bytes, 2 of them the code
            self.proto.send_close(code, reason.encode()[:123].decode("utf-8", "ignore"))
            self._write_protocol()
        self.closed = True
        self.hub.drop(self)
        self.transport.close()

    def _fail(self, code: int, reason: str):
        self.proto.fail(code, reason.encode()[:123].decode("utf-8", "ignore"))
        self._write_protocol()
        self.closed = True
        self.hub.drop(self)
        self.transport.close()

    # ------------------------------------------------------------------ client messages

    def _frame(self, ev):
        op = ev.opcode
        if op is Opcode.TEXT or op is Opcode.BINARY:
            if ev.fin:
                self._message(op, ev.data)
            else:
                self.frag, self.frag_op = [ev.data], op
        elif op is Opcode.CONT and self.frag is not None:
            self.frag.append(ev.data)
            if ev.fin:
                data, self.frag = b"".join(self.frag), None
                self._message(self.frag_op, data)

    def _message(self, op, data: bytes):
        if op is Opcode.BINARY:
            self._reply({"type": "error", "message": "binary messages are not supported; send JSON text"})
            return
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as exc:
            self.hub.invalid += 1
            self._fail(1007, f"invalid UTF-8 in a text message at byte {exc.start}")
            return
        self._on_text(data)

    def _reply(self, msg: dict):
        self.send_raw(frame_text(_encode(msg)))

    def _on_text(self, data: bytes):
        try:
            op = _decode_op(data)
        except msgspec.DecodeError as exc:
            self._reply({"type": "error", "message": f"bad message: {exc}"})
            return
        hub = self.hub
        try:
            if op.op == "ping":
                self._reply({"type": "pong", "id": op.id})
            elif op.op == "auth":
                key = hub.authenticate(self, op)
                hub.authenticated(self, key)
                self._reply({"type": "response", "op": "auth", "id": op.id, "ok": True, "uid": key.uid,
                             "role": key.role})
            elif op.op in ("subscribe", "unsubscribe"):
                names = ([op.topic] if op.topic else []) + (op.topics or [])
                if not names:
                    raise ApiError(GwCode.INVALID_REQUEST, "`topic` or `topics` is required")
                if op.op == "subscribe":
                    if len(self.topics | set(names)) > hub.limits.max_topics:
                        raise ApiError(GwCode.INVALID_REQUEST, f"at most {hub.limits.max_topics} topics per connection")
                    for n in names:
                        hub.authorize(self, n)          # all or nothing
                    self._reply({"type": "response", "op": op.op, "id": op.id, "ok": True, "topics": names})
                    for n in names:
                        hub.subscribe(self, n)
                else:
                    for n in names:
                        hub.unsubscribe(self, n)
                    self._reply({"type": "response", "op": op.op, "id": op.id, "ok": True, "topics": names})
            else:
                raise ApiError(GwCode.INVALID_REQUEST,
                               f"unknown op {op.op!r}: expected auth, subscribe, unsubscribe or ping")
        except ApiError as exc:
            self._reply({"type": "error", "op": op.op, "id": op.id, "code": int(exc.code), "status": exc.status,
                         "message": exc.message})
