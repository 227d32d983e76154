"""WebSocket endpoint and topic hub.

The handshake and everything a client sends (masked frames, fragmentation, ping / pong, close)
go through ``websockets``' Sans-I/O ``ServerProtocol``, so protocol correctness is a maintained
library's. What the server pushes is written directly: server frames are unmasked, so one
message on one topic is the same bytes for every subscriber and is framed once.

Fan-out is coalesced: ``publish`` only appends the frame to each subscriber's buffer, and one
``flush`` per event-loop tick writes each connection's buffer with a single ``transport.write``
(the measured way past the ~220k deliveries/s bound of one send per subscriber per message).
A connection whose kernel + transport buffer exceeds ``max_buffer`` bytes after a flush is cut
off (close code 1008 is not waited for: the transport is aborted), so a slow reader never holds
memory without bound and never slows the engine.

Messages to clients: ``{"topic", "seq", "type": "snapshot" | "update", "data"}``. ``seq`` counts
the updates of that topic since the server started; a snapshot carries the seq of the last
update it includes, so the next update a client sees must be ``seq + 1`` — a gap is visible.
"""
from __future__ import annotations

import asyncio
import logging
from typing import Callable

import msgspec
from websockets.frames import Opcode
from websockets.http11 import Request as WsRequest
from websockets.protocol import State
from websockets.server import ServerProtocol

__all__ = ["Hub", "WsConnection", "frame_text"]

_log = logging.getLogger(__name__)
_encode = msgspec.json.Encoder(decimal_format="number").encode


def frame_text(payload: bytes) -> bytes:
    """An unmasked, unfragmented server text frame (RFC 6455 section 5.2)."""
    n = len(payload)
    if n < 126:
        return bytes((0x81, n)) + payload
    if n < 65536:
        return bytes((0x81, 126)) + n.to_bytes(2, "big") + payload
    return bytes((0x81, 127)) + n.to_bytes(8, "big") + payload


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


class Hub:
    """Topics, subscriptions and the coalesced flush."""

    def __init__(self, loop: asyncio.AbstractEventLoop, max_buffer: int = 4 * 1024 * 1024,
                 max_topics: int = 256, max_connections: int = 4096):
        self.loop = loop
        self.topics: dict[str, Topic] = {}
        self.conns: set[WsConnection] = set()
        self.dirty: set[WsConnection] = set()
        self.max_buffer = max_buffer
        self.max_topics = max_topics
        self.max_connections = max_connections
        self._flush_scheduled = False
        self.published = self.delivered = self.cut_off = self.refused = 0
        # set by the gateway: (conn, topic name) -> (snapshot data) or raises ApiError
        self.authorize: Callable = lambda conn, name: None
        self.snapshot: Callable = lambda conn, name: None
        self.authenticate: Callable = lambda conn, op: None
        self.on_subscribe: Callable = lambda name: None
        # latency probes: (conn, frames) right after a flush handed a connection's frames to its
        # transport (the moment "WebSocket frame written"); None costs one attribute test per flush
        self.on_written: Callable | None = None

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
        if t.subs:
            frame = frame_text(_encode({"topic": name, "seq": t.seq, "type": "update", "data": data}))
            for c in t.subs:
                c.out.append(frame)
            self.delivered += len(t.subs)
            self.dirty |= t.subs
            if not self._flush_scheduled:
                self._flush_scheduled = True
                self.loop.call_soon(self.flush)
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

    def flush(self):
        self._flush_scheduled = False
        dirty, self.dirty = self.dirty, set()
        limit = self.max_buffer
        for c in dirty:
            c.flush(limit)

    def subscribe(self, conn: "WsConnection", name: str):
        t = self.topic(name)
        if conn in t.subs:
            return
        data = self.snapshot(conn, name)
        t.subs.add(conn)
        conn.topics.add(name)
        conn.send_raw(frame_text(_encode({"topic": name, "seq": t.seq, "type": "snapshot", "data": data})))

    def unsubscribe(self, conn: "WsConnection", name: str) -> bool:
        t = self.topics.get(name)
        conn.topics.discard(name)
        if t is None or conn not in t.subs:
            return False
        t.subs.discard(conn)
        return True

    def drop(self, conn: "WsConnection"):
        for name in conn.topics:
            t = self.topics.get(name)
            if t is not None:
                t.subs.discard(conn)
        conn.topics.clear()
        self.conns.discard(conn)
        self.dirty.discard(conn)


class WsConnection(asyncio.Protocol):
    def __init__(self, hub: Hub, transport: asyncio.Transport, path: str, headers: dict[str, str],
                 max_message: int = 64 * 1024):
        self.hub = hub
        self.transport = transport
        self.proto = ServerProtocol(max_size=max_message)
        self.out: list[bytes] = []
        self.topics: set[str] = set()
        self.key = None                  # auth.Key after a successful auth op
        self.closed = False
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
        if len(hub.conns) >= hub.max_connections:
            hub.refused += 1
            self._close(1013, "too many WebSocket connections")
            return
        hub.conns.add(self)

    # ------------------------------------------------------------------ transport

    def connection_made(self, transport):       # not called after set_protocol; kept for clarity
        pass

    def connection_lost(self, exc):
        self.closed = True
        self.hub.drop(self)

    def data_received(self, data: bytes):
        if self.closed:
            return
        self.proto.receive_data(data)
        for ev in self.proto.events_received():
            if ev.opcode is Opcode.TEXT:
                self._on_text(ev.data)
            elif ev.opcode is Opcode.BINARY:
                self._reply({"type": "error", "message": "binary messages are not supported; send JSON text"})
        self._write_protocol()
        if self.proto.state is State.CLOSED or self.proto.close_expected():
            self.closed = True
            self.hub.drop(self)
            self.transport.close()

    def eof_received(self):
        self.proto.receive_eof()
        return False

    def _write_protocol(self):
        for chunk in self.proto.data_to_send():
            if chunk:
                self.transport.write(chunk)

    def send_raw(self, frame: bytes):
        self.out.append(frame)
        self.hub.dirty.add(self)
        if not self.hub._flush_scheduled:
            self.hub._flush_scheduled = True
            self.hub.loop.call_soon(self.hub.flush)

    def flush(self, limit: int):
        if self.closed or not self.out:
            self.out.clear()
            return
        out, self.out = self.out, []
        self.transport.write(b"".join(out) if len(out) > 1 else out[0])
        if self.hub.on_written is not None:
            self.hub.on_written(self, out)
        if self.transport.get_write_buffer_size() > limit:
            self.hub.cut_off += 1
            _log.info("cutting off slow WebSocket client: %d bytes buffered", self.transport.get_write_buffer_size())
            self.closed = True
            self.hub.drop(self)
            self.transport.abort()

    def _close(self, code: int, reason: str):
        if self.proto.state is State.OPEN:
            self.proto.send_close(code, reason)
            self._write_protocol()
        self.closed = True
        self.hub.drop(self)
        self.transport.close()

    # ------------------------------------------------------------------ client messages

    def _reply(self, msg: dict):
        self.send_raw(frame_text(_encode(msg)))

    def _on_text(self, data: bytes):
        from .errors import ApiError
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
                self.key = key
                self._reply({"type": "response", "op": "auth", "id": op.id, "ok": True, "uid": key.uid,
                             "role": key.role})
            elif op.op in ("subscribe", "unsubscribe"):
                names = ([op.topic] if op.topic else []) + (op.topics or [])
                if not names:
                    raise ApiError(1011, "`topic` or `topics` is required")
                if op.op == "subscribe":
                    if len(self.topics) + len(names) > hub.max_topics:
                        raise ApiError(1011, f"at most {hub.max_topics} topics per connection")
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
                raise ApiError(1011, f"unknown op {op.op!r}: expected auth, subscribe, unsubscribe or ping")
        except ApiError as exc:
            self._reply({"type": "error", "op": op.op, "id": op.id, "code": int(exc.code), "status": exc.status,
                         "message": exc.message})
