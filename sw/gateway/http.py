"""HTTP/1.1 server: an ``asyncio.Protocol`` over httptools' parser, on uvloop.

Why hand-rolled framing: measured in ``shared/notes/http-stacks.md``, a raw protocol server over
httptools is 3-5x faster than any framework on this machine kind. What a framework would
otherwise give us is done here explicitly, and each item has a test (tests/sw/gateway/
test_http.py, test_hostile.py):

* keep-alive (HTTP/1.1 default, HTTP/1.0 only when asked), ``Connection: close``;
* pipelining: requests on one connection are answered strictly in order even when a later
  handler finishes first;
* bodies by ``Content-Length`` or chunked transfer coding (httptools de-chunks);
* limits: header bytes (431), body bytes (413), concurrent connections in all and per peer
  address (503 + close), idle keep-alive time and the time to receive a whole request
  (408 + close);
* bounded memory whatever the client does: input is parsed a slice at a time and a connection
  stops taking requests (reading pauses, the rest of its input waits unparsed) while its unsent
  answers pass ``max_output`` bytes or ``max_pipelined`` answers are in progress, so even
  answers produced at once wait for the client to read; a client that reads nothing for
  ``write_timeout`` seconds is cut off;
* the WebSocket upgrade is handed to a callback with the bytes that followed the request.

The handler is ``handle(request) -> Response | Awaitable[Response]``: a synchronous answer is
written at once (the fast path: no task, no future).
"""
from __future__ import annotations

import asyncio
import time
from collections import deque
from typing import Awaitable, Callable

import httptools

__all__ = ["Request", "Response", "HttpServer", "Limits", "STATUS_TEXT"]

STATUS_TEXT = {
    101: "Switching Protocols", 200: "OK", 201: "Created", 204: "No Content", 400: "Bad Request",
    401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed",
    408: "Request Timeout", 409: "Conflict", 413: "Content Too Large", 415: "Unsupported Media Type",
    422: "Unprocessable Content", 426: "Upgrade Required", 429: "Too Many Requests",
    431: "Request Header Fields Too Large", 500: "Internal Server Error", 503: "Service Unavailable",
}
_STATUS_LINE = {code: f"HTTP/1.1 {code} {text}\r\n".encode() for code, text in STATUS_TEXT.items()}


class Limits:
    """Server limits; the defaults suit an order gateway (small JSON bodies, many idle clients).

    Members
    -------
    max_body, max_header : int
        Bytes of (de-chunked) body (413) and of request line + headers (431).
    max_connections, max_per_address : int
        Connections in all and from one peer address; beyond: 503 and close.
    idle_timeout : float
        Seconds a keep-alive connection with nothing in flight stays open.
    request_timeout : float
        Seconds from the first byte of a request to its last (408 and close: slowloris).
    max_pipelined : int
        Answers in progress (handlers still running) before the connection stops taking requests.
    max_output : int
        Bytes of answers waiting to be sent (in the transport and queued behind a pending
        answer) before the connection stops taking requests: a client that pipelines without
        reading cannot make the server produce replies faster than it reads them.
    write_timeout : float
        Seconds the transport may stay above its high-water mark (the client reads nothing)
        before the connection is aborted.
    read_slice : int
        Input is parsed at most this many bytes at a time, the budget checked in between, so at
        most one slice worth of parsed requests ever waits.
    """

    def __init__(self, max_body: int = 64 * 1024, max_header: int = 16 * 1024,
                 max_connections: int = 4096, idle_timeout: float = 60.0,
                 request_timeout: float = 10.0, max_pipelined: int = 256, max_per_address: int = 256,
                 max_output: int = 1024 * 1024, write_timeout: float = 30.0, read_slice: int = 4096):
        self.max_body = max_body
        self.max_header = max_header
        self.max_connections = max_connections
        self.max_per_address = max_per_address
        self.idle_timeout = idle_timeout
        self.request_timeout = request_timeout
        self.max_pipelined = max_pipelined
        self.max_output = max_output
        self.write_timeout = write_timeout
        self.read_slice = read_slice


class Request:
    __slots__ = ("method", "path", "query", "headers", "body", "keep_alive", "conn", "raw_url")

    def __init__(self, method: str, raw_url: bytes, headers: dict, body: bytes, keep_alive: bool, conn):
        self.method = method
        self.raw_url = raw_url
        url = httptools.parse_url(raw_url)
        self.path = url.path.decode("latin-1")
        self.query = url.query.decode("latin-1") if url.query else ""
        self.headers = headers          # lower-case str -> str
        self.body = body
        self.keep_alive = keep_alive
        self.conn = conn


class Response:
    __slots__ = ("status", "body", "content_type", "headers")

    def __init__(self, status: int, body: bytes = b"", content_type: str = "application/json;charset=UTF-8",
                 headers: tuple = ()):
        self.status = status
        self.body = body
        self.content_type = content_type
        self.headers = headers

    def encode(self, keep_alive: bool, head: bool = False) -> bytes:
        extra = "".join(f"{k}: {v}\r\n" for k, v in self.headers)
        hdr = (f"Content-Type: {self.content_type}\r\nContent-Length: {len(self.body)}\r\n{extra}"
               + ("" if keep_alive else "Connection: close\r\n") + "\r\n")
        line = _STATUS_LINE.get(self.status) or f"HTTP/1.1 {self.status} Status\r\n".encode()
        return line + hdr.encode("latin-1") + (b"" if head else self.body)


Handler = Callable[[Request], "Response | Awaitable[Response]"]
UpgradeHandler = Callable[[Request, asyncio.Transport, bytes], "asyncio.Protocol | None"]
ErrorFactory = Callable[[int, str], Response]


def _plain_error(status: int, message: str) -> Response:
    return Response(status, ('{"error":"%s"}' % message.replace('"', "'")).encode())


class _Conn(asyncio.Protocol):
    __slots__ = ("server", "transport", "parser", "url", "headers", "header_bytes", "body", "body_len",
                 "started", "last", "queue", "closing", "cur_header", "in_headers", "held", "upgrade_req",
                 "busy", "queued", "inbox", "backlog", "write_paused", "addr")

    def __init__(self, server: "HttpServer"):
        self.server = server
        self.transport = None
        self.parser = httptools.HttpRequestParser(self)
        self.queue: deque = deque()     # [response bytes or None (pending), keep-alive] in request order
        self.closing = False
        self.held = False               # reading paused by us: over budget (back-pressure)
        self.busy = 0                   # answers whose handlers still run
        self.queued = 0                 # bytes of ready answers queued behind a pending one
        self.inbox = b""                # received, not parsed yet (only while held)
        self.backlog: deque = deque()   # parsed requests waiting for the budget (at most one slice's)
        self.write_paused = 0.0         # monotonic time the transport passed its high-water mark (0: not)
        self.addr = None
        self.upgrade_req = None
        self._reset()

    def _reset(self):
        self.url = b""
        self.headers = {}
        self.header_bytes = 0
        self.body = []
        self.body_len = 0
        self.started = 0.0              # monotonic time the current request began, 0 = none
        self.cur_header = None
        self.in_headers = False

    # ------------------------------------------------------------------ asyncio

    def connection_made(self, transport):
        self.transport = transport
        self.last = time.monotonic()
        srv = self.server
        lim = srv.limits
        peer = transport.get_extra_info("peername")
        addr = peer[0] if isinstance(peer, tuple) else peer
        if len(srv.conns) >= lim.max_connections:
            self._refuse("too many connections")
            return
        if srv.per_address.get(addr, 0) >= lim.max_per_address:
            self._refuse(f"too many connections from {addr} (at most {lim.max_per_address})")
            return
        self.addr = addr
        srv.per_address[addr] = srv.per_address.get(addr, 0) + 1
        srv.conns.add(self)
        # the transport tells us (pause_writing) when answers pile up unread
        transport.set_write_buffer_limits(high=lim.max_output, low=lim.max_output // 4)

    def _refuse(self, message: str):
        srv = self.server
        srv.refused += 1
        self.transport.write(srv.error(503, message).encode(False))
        self.transport.close()
        self.closing = True

    def _forget(self):
        """Leave the server's books (connection closed or handed to another protocol)."""
        srv = self.server
        srv.conns.discard(self)
        if self.addr is not None:
            n = srv.per_address.get(self.addr, 1) - 1
            if n:
                srv.per_address[self.addr] = n
            else:
                srv.per_address.pop(self.addr, None)
            self.addr = None

    def connection_lost(self, exc):
        self.closing = True
        self.backlog.clear()
        self.inbox = b""
        self._forget()

    def pause_writing(self):
        self.write_paused = time.monotonic()

    def resume_writing(self):
        self.write_paused = 0.0
        self._pump()

    def data_received(self, data: bytes):
        if self.closing:
            return
        self.last = time.monotonic()
        if self.held:                   # reading was paused but a read was already under way
            self.inbox += data
            return
        self._feed(data)

    def _feed(self, data: bytes):
        """Parse ``data`` a slice at a time; stop (keeping the rest) as soon as requests wait."""
        step = self.server.limits.read_slice
        n = len(data)
        mv = memoryview(data) if n > step else None
        pos = 0
        while pos < n and not self.closing:
            chunk = data if mv is None else mv[pos:pos + step]
            pos += len(chunk)
            if not self.started:
                self.started = self.last
                self.in_headers = True
            if self.in_headers:
                self.header_bytes += len(chunk)
                if self.header_bytes > self.server.limits.max_header and not self._headers_fit(bytes(chunk)):
                    return
            try:
                self.parser.feed_data(chunk)
            except httptools.HttpParserUpgrade as exc:
                off = exc.args[0] if exc.args else len(chunk)
                self._upgrade(bytes(chunk[off:]) + (bytes(mv[pos:]) if mv is not None else b""))
                return
            except httptools.HttpParserError as exc:
                if not self.closing:
                    self._fail(400, f"malformed HTTP request: {exc}")
                return
            if self.backlog and pos < n:
                # over budget: the rest waits unparsed (bounded by one read), reading stops
                self.inbox = bytes(mv[pos:])
                break
        if self.backlog or self.inbox:
            self._hold()

    def _hold(self):
        if not self.held and not self.closing:
            self.held = True
            self.server.held += 1
            self.transport.pause_reading()

    def _over_budget(self) -> bool:
        lim = self.server.limits
        return (self.busy >= lim.max_pipelined
                or self.queued + self.transport.get_write_buffer_size() > lim.max_output)

    def _pump(self):
        """Take waiting requests again while the budget allows; resume reading once none wait."""
        while self.backlog and not self.closing:
            if self._over_budget():
                return
            self._dispatch(self.backlog.popleft())
        if self.closing:
            return
        if self.inbox:
            data, self.inbox = self.inbox, b""
            self._feed(data)
            if self.backlog or self.inbox or self.closing:
                return
        if self.held:
            self.held = False
            self.transport.resume_reading()

    def _headers_fit(self, data: bytes) -> bool:
        # the limit counts bytes up to the end of the header block, not body bytes that came along
        end = data.find(b"\r\n\r\n")
        over = self.header_bytes - len(data) + (end + 4 if end >= 0 else len(data))
        if over > self.server.limits.max_header:
            self._fail(431, f"request headers exceed {self.server.limits.max_header} bytes")
            return False
        return True

    # ------------------------------------------------------------------ httptools callbacks

    def on_message_begin(self):
        if not self.started:
            self.started = time.monotonic()
        self.in_headers = True

    def on_url(self, url: bytes):
        self.url += url

    def on_header(self, name: bytes, value: bytes):
        self.headers[name.decode("latin-1").lower()] = value.decode("latin-1")

    def on_headers_complete(self):
        self.in_headers = False
        cl = self.headers.get("content-length")
        if cl is not None and cl.isdigit() and int(cl) > self.server.limits.max_body:
            self._fail(413, f"request body exceeds {self.server.limits.max_body} bytes")

    def on_body(self, data: bytes):
        if self.closing:
            return
        self.body_len += len(data)
        if self.body_len > self.server.limits.max_body:
            self._fail(413, f"request body exceeds {self.server.limits.max_body} bytes")
            return
        self.body.append(data)

    def on_message_complete(self):
        if self.closing:
            return
        p = self.parser
        req = Request(p.get_method().decode("latin-1"), self.url, self.headers,
                      b"".join(self.body), p.should_keep_alive(), self)
        self._reset()
        if p.should_upgrade():
            self.upgrade_req = req      # handled by the HttpParserUpgrade that follows
            return
        if self.backlog or self._over_budget():
            self.backlog.append(req)
            return
        self._dispatch(req)

    # ------------------------------------------------------------------ answering

    def _dispatch(self, req: Request):
        srv = self.server
        srv.requests += 1
        try:
            res = srv.handler(req)
        except Exception as exc:                       # a handler bug must not kill the connection silently
            srv.errors += 1
            srv.log_exception(exc)
            res = srv.error(500, "internal error")
        keep = req.keep_alive
        head = req.method == "HEAD"
        if isinstance(res, Response):
            data = res.encode(keep, head)
            if not self.queue:
                self.transport.write(data)
                if not keep:
                    self._close_after_write()
                return
            self.queue.append([data, keep])
            self.queued += len(data)
            self._flush()
            return
        slot = [None, keep]
        self.queue.append(slot)
        self.busy += 1
        task = asyncio.ensure_future(res)
        task.add_done_callback(lambda t, slot=slot, head=head: self._done(t, slot, head))

    def _done(self, task: asyncio.Future, slot: list, head: bool):
        self.busy -= 1
        srv = self.server
        try:
            res = task.result()
        except Exception as exc:
            srv.errors += 1
            srv.log_exception(exc)
            res = srv.error(500, "internal error")
        slot[0] = res.encode(slot[1], head)
        self.queued += len(slot[0])
        self._flush()
        self._pump()

    def _flush(self):
        q = self.queue
        out = []
        close = False
        while q and q[0][0] is not None:
            data, keep = q.popleft()
            self.queued -= len(data)
            out.append(data)
            if not keep:
                close = True
                q.clear()
                self.queued = 0
                break
        if out and not self.closing:
            self.transport.write(b"".join(out) if len(out) > 1 else out[0])
        if close:
            self._close_after_write()

    def _close_after_write(self):
        self.closing = True
        self.backlog.clear()
        self.inbox = b""
        self.transport.close()          # asyncio flushes the write buffer before closing

    def _fail(self, status: int, message: str):
        """Protocol-level error: answer (after what is already queued) and close."""
        self.server.protocol_errors += 1
        data = self.server.error(status, message).encode(False)
        self.closing = True
        self.backlog.clear()
        self.inbox = b""
        if self.queue:
            self.queue.append([data, False])
            q, out = self.queue, []
            while q and q[0][0] is not None:
                out.append(q.popleft()[0])
            if out:
                self.transport.write(b"".join(out))
            if q:                       # answers still pending: give up on them, the peer erred
                q.clear()
        else:
            self.transport.write(data)
        self.transport.close()

    def _upgrade(self, rest: bytes):
        req = self.upgrade_req
        self.upgrade_req = None
        if req is None:
            self._fail(400, "bad upgrade request")
            return
        srv = self.server
        proto = srv.on_upgrade(req, self.transport, rest) if srv.on_upgrade else None
        if isinstance(proto, Response):             # refused (e.g. bad credentials): answer and close
            self.transport.write(proto.encode(False))
            self._close_after_write()
            return
        if proto is None:
            # not a WebSocket we serve: answer it as a normal request, then close (the parser is
            # past the point where it could go on reading HTTP on this connection)
            req.keep_alive = False
            self._dispatch(req)
            return
        self._forget()
        srv.upgraded += 1
        self.closing = True             # this object no longer owns the transport
        self.transport.set_protocol(proto)
        if self.held:                   # the new protocol reads from here on
            self.transport.resume_reading()

    def tick(self, now: float):
        """Called about once a second by the server: enforce the timeouts."""
        lim = self.server.limits
        if self.closing:
            return
        if self.write_paused and now - self.write_paused > lim.write_timeout:
            # nothing read for a long time with answers waiting: the peer has gone or will not read
            self.server.stalled += 1
            self.closing = True
            self.transport.abort()
        elif self.started and not self.held and now - self.started > lim.request_timeout:
            self._fail(408, f"request not received within {lim.request_timeout:g} s")
        elif (not self.started and not self.busy and not self.queue and not self.backlog and not self.inbox
              and now - self.last > lim.idle_timeout):
            self.server.idle_closed += 1
            self.closing = True
            self.transport.close()


class HttpServer:
    def __init__(self, handler: Handler, limits: Limits | None = None,
                 on_upgrade: UpgradeHandler | None = None, error: ErrorFactory = _plain_error,
                 log_exception: Callable[[BaseException], None] = lambda e: None):
        self.handler = handler
        self.limits = limits or Limits()
        self.on_upgrade = on_upgrade
        self.error = error
        self.log_exception = log_exception
        self.conns: set[_Conn] = set()
        self.per_address: dict[str, int] = {}
        self.server: asyncio.base_events.Server | None = None
        self._ticker: asyncio.TimerHandle | None = None
        self.requests = self.errors = self.protocol_errors = self.refused = 0
        self.idle_closed = self.upgraded = self.held = self.stalled = 0

    async def start(self, host: str, port: int, reuse_port: bool = False, backlog: int = 1024):
        loop = asyncio.get_running_loop()
        self.server = await loop.create_server(lambda: _Conn(self), host, port, backlog=backlog,
                                               reuse_port=reuse_port or None)
        self._tick()
        return self.server

    @property
    def port(self) -> int:
        return self.server.sockets[0].getsockname()[1]

    def _tick(self):
        now = time.monotonic()
        for c in list(self.conns):
            c.tick(now)
        lim = self.limits
        period = min(1.0, lim.request_timeout / 4, lim.idle_timeout / 4, lim.write_timeout / 4)
        self._ticker = asyncio.get_running_loop().call_later(period, self._tick) if self.server else None

    async def stop(self):
        if self._ticker:
            self._ticker.cancel()
        if self.server:
            srv, self.server = self.server, None
            srv.close()
            for c in list(self.conns):
                if c.transport:
                    c.transport.close()
            await srv.wait_closed()
