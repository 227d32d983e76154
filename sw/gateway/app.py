"""The gateway: exchange-gateway-rest's REST API and WebSocket topics over one Exchange.

One process, one event loop (uvloop), two protocols on one port: HTTP/1.1 (``http.py``) and the
WebSocket upgrade on ``/ws`` (``ws.py``). :class:`Gateway` wires the parts and dispatches:

* ``routes.py``: the route table's matcher; ``admin.py``, ``market.py``, ``trading.py``: the
  handlers by group;
* ``meta.py``: asset / symbol codes, limits and keys (``gateway-meta.json``);
* ``fanout.py``: results -> order registry, bars, trades, topics; WebSocket access rules;
* ``bridge.py``: commands into the one sequencer, results back in sequence order;
* ``persist.py``: gateway snapshots and the recovery that rebuilds what clients saw.

See docs/gateway.md.
"""
from __future__ import annotations

import asyncio
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from ringgate.sw.exchange import Exchange

from . import schemas as S
from .admin import AdminApi
from .auth import HEADER_KEY, HEADER_SIG, HEADER_TS, KeyStore
from .bridge import Bridge
from .errors import ApiError, GwCode, error_response, protocol_error
from .fanout import Fanout
from .feed import RingFeed
from .http import HttpServer, Limits, Request, Response
from .market import MarketApi
from .meta import Metadata
from .persist import export_history, save_history
from .routes import ADMIN, ADMIN_PREFIX, PUBLIC, TRADE_PREFIX, USER, Route, Router, parse_uid
from .trading import REST_ORDER_ID_BASE, TradingApi
from .ws import Hub, WsConnection, WsLimits

__all__ = ["Gateway", "REST_ORDER_ID_BASE", "ADMIN", "USER", "PUBLIC", "run_in_thread", "content_type_ok"]

_log = logging.getLogger("ringgate.sw.gateway")


def content_type_ok(ct: str) -> bool:
    """``application/json``, optionally with ``charset=utf-8`` (any other charset is refused:
    bodies are decoded as UTF-8, as RFC 8259 requires of JSON exchanged between systems)."""
    media, _, params = ct.partition(";")
    if media.strip().lower() != "application/json":
        return False
    for param in params.split(";"):
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset" and value.strip().strip('"').lower() not in ("utf-8", "utf8"):
            return False
    return True


class Gateway:
    """The REST + WebSocket gateway over ``exchange``; ``await start(host, port)`` inside a running loop.

    Members
    -------
    ex : Exchange
    keys : KeyStore
        API keys, signature checks, the replay cache.
    meta : Metadata
        Assets, symbols (codes, limits), the metadata file.
    orders : OrderRegistry
    fanout : Fanout
        Result processing, bars, trades, WebSocket access.
    routes : list[Route]
        The route table (also the OpenAPI description's source).
    http, hub, bridge, feed
        Set by :meth:`start`: the HTTP server, the WebSocket hub, the sequencer bridge and the
        FPGA ring feed.
    """

    def __init__(self, exchange: Exchange, meta_dir: str | Path | None = None, limits: Limits | None = None,
                 auth_window_ms: int = 5000, history_per_user: int = 1000, ws_limits: WsLimits | None = None,
                 history: Fanout | None = None):
        """``history``: the result-derived state recovered with the exchange (``persist.recover``);
        without it the registry starts from the engine's resting orders."""
        self.ex = exchange
        self.meta_dir = Path(meta_dir) if meta_dir is not None else None
        self.limits = limits or Limits()
        self.ws_limits = ws_limits or WsLimits()
        self.keys = KeyStore(window_ms=auth_window_ms, replay_dir=meta_dir)
        self.meta = Metadata(exchange, self.keys, meta_dir)
        self.fanout = history if history is not None else Fanout(history_per_user=history_per_user)
        self.fanout.attach(exchange, self.meta, self.keys)
        self.orders = self.fanout.orders
        self.http: HttpServer | None = None
        self.hub: Hub | None = None
        self.bridge: Bridge | None = None
        self.feed: RingFeed | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self._saver = None
        self._saving = None
        self.meta.load()
        self.fanout.seed()
        self.admin = AdminApi(self)
        self.market = MarketApi(self)
        self.trading = TradingApi(self)
        self.routes = self._build_routes()
        self.router = Router(self.routes)

    # ================================================================== lifecycle

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> int:
        self.loop = asyncio.get_running_loop()
        fo = self.fanout
        self.hub = Hub(self.loop, self.ws_limits, authorize=fo.authorize, snapshot=fo.snapshot,
                       authenticate=fo.authenticate)
        self.hub.start()
        fo.hub = self.hub
        self.bridge = Bridge(self.ex, self.loop, fo.on_results, on_snapshot=self._save_history)
        self.feed = RingFeed(self.bridge)
        self.http = HttpServer(self.handle, self.limits, on_upgrade=self._upgrade, error=protocol_error,
                               log_exception=lambda e: _log.error("handler failed", exc_info=e))
        await self.http.start(host, port)
        return self.http.port

    async def stop(self):
        if self.http:
            await self.http.stop()
        if self.hub:
            self.hub.close()
        if self.bridge:
            await asyncio.get_running_loop().run_in_executor(None, self.bridge.close)
            # the bridge thread may have queued last completions: let them run
            await asyncio.sleep(0)
        if self._saving is not None:
            await asyncio.wrap_future(self._saving)
        if self.keys.log is not None:
            self.keys.log.close()

    def _save_history(self, seq: int):
        """The exchange took a snapshot at ``seq`` and every result up to it is processed: save the
        history at the same point (encoded here, written on another thread)."""
        if self.meta_dir is None:
            return
        blob = export_history(self.fanout, seq)
        if self._saver is None:
            self._saver = ThreadPoolExecutor(1, thread_name_prefix="gateway-history")
        keep = self.ex.snapshot_seqs()

        def write():
            try:
                save_history(self.meta_dir, seq, blob, keep)
            except OSError:
                _log.exception("gateway history snapshot at seq %d failed", seq)
        self._saving = self._saver.submit(write)

    @property
    def port(self) -> int:
        return self.http.port

    def add_key(self, uid: int, role: str = "user", api_key: str | None = None, secret: str | None = None):
        k = self.keys.add(uid, role, api_key, secret)
        self.meta.save()
        return k

    # ================================================================== HTTP dispatch

    def handle(self, req: Request):
        try:
            route, params = self.router.match(req.method, req.path)
            key = None
            if route.auth is not PUBLIC:
                key = self._authenticate(req)
                self._authorize(route, params, key)
            res = route.handler(req, params, key)
            if type(res) is Response or isinstance(res, asyncio.Future):
                return res
            return self._finish(res)
        except ApiError as exc:
            return error_response(exc.code, exc.message, exc.status)

    async def _finish(self, coro):
        try:
            return await coro
        except Exception as exc:
            return self.error_for(exc)

    @staticmethod
    def error_for(exc: BaseException) -> Response:
        if isinstance(exc, ApiError):
            return error_response(exc.code, exc.message, exc.status)
        if isinstance(exc, RuntimeError):        # journal failed earlier: the exchange refuses to go on
            _log.error("command failed: %s", exc)
            return error_response(GwCode.SERVICE_UNAVAILABLE, f"exchange unavailable: {exc}")
        if isinstance(exc, OSError):
            return error_response(GwCode.SERVICE_UNAVAILABLE, f"journal write failed: {exc}")
        raise exc

    def _authenticate(self, req: Request):
        h = req.headers
        raw = req.raw_url.decode("latin-1")
        return self.keys.verify(h.get(HEADER_KEY), h.get(HEADER_TS), h.get(HEADER_SIG), req.method, raw, req.body)

    def _authorize(self, route: Route, params: dict, key):
        if route.auth is ADMIN:
            if not key.admin:
                raise ApiError(GwCode.FORBIDDEN, "this endpoint needs the admin credential")
            return
        uid = parse_uid(params["uid"])
        params["uid"] = uid
        if key.uid == uid and not key.admin:
            return
        if key.admin and route.method == "GET":
            return                              # operators may read, never trade as a user
        raise ApiError(GwCode.FORBIDDEN, f"API key of uid {key.uid} ({key.role}) may not access uid {uid}")

    # ================================================================== helpers for the handlers

    @staticmethod
    def body(req: Request, typ):
        """The request body as a ``typ`` struct, as strictly as the OpenAPI description says."""
        ct = req.headers.get("content-type")
        if ct is not None and not content_type_ok(ct):
            raise ApiError(GwCode.UNSUPPORTED_MEDIA_TYPE,
                           f"Content-Type must be application/json (charset utf-8), got {ct!r}", 415)
        if not req.body:
            raise ApiError(GwCode.INVALID_REQUEST, f"request body is required: a JSON object ({typ.__name__})")
        try:
            return S.decode_request(typ, req.body)
        except S.BodyError as exc:
            raise ApiError(GwCode.INVALID_REQUEST, str(exc)) from None

    def submit(self, cmd, build=None, on_error=None) -> asyncio.Future:
        """Sequence ``cmd``: a future of its CommandResult (or of ``build(result)``)."""
        if self.bridge.failed is not None:
            raise ApiError(GwCode.SERVICE_UNAVAILABLE, f"exchange journal failed: {self.bridge.failed}")
        return self.bridge.submit(cmd, build, on_error)

    def then(self, cmd, build, on_error=None) -> asyncio.Future:
        """Submit ``cmd``; a future of ``build(result)``, built by the bridge when the sequencer
        answers. The hot trading paths use this instead of a coroutine: no Task per request."""
        def failed(exc):
            if on_error is not None:
                on_error()
            return self.error_for(exc)
        return self.submit(cmd, build, failed)

    # ================================================================== routes

    def _build_routes(self) -> list[Route]:
        A, T = ADMIN_PREFIX, TRADE_PREFIX
        sym = f"{T}/symbols/{{symbol}}"
        ords = f"{sym}/trade/{{uid}}/orders"
        R = Route
        ad, mk, tr = self.admin, self.market, self.trading
        return [
            R("POST", f"{A}/assets", ad.add_asset, ADMIN, S.AddAssetRequest, "Add an asset (currency)", 201,
              S.AddAssetRequest, tags=("admin",), errors=(1003,)),
            R("POST", f"{A}/symbols", ad.add_symbol, ADMIN, S.AddSymbolRequest, "Add a symbol", 201,
              S.SymbolSpec, tags=("admin",), errors=(1000, 1001, 1002, 1008)),
            R("POST", f"{A}/users", ad.add_user, ADMIN, S.AddUserRequest,
              "Add a user (201 even when it exists: see coreResultCode, as exchange-gateway-rest)", 201, int,
              tags=("admin",)),
            R("POST", f"{A}/users/{{uid}}/accounts", ad.adjust_balance, ADMIN, S.BalanceAdjustmentRequest,
              "Deposit (amount > 0) or withdraw (amount < 0)", 201, int, tags=("admin",), errors=(1004, 1005)),
            R("POST", f"{A}/users/{{uid}}/suspend", ad.suspend_user, ADMIN, None,
              "Suspend a user (needs zero balances, no open orders)", 200, int, tags=("admin",)),
            R("POST", f"{A}/users/{{uid}}/resume", ad.resume_user, ADMIN, None, "Resume a suspended user", 200,
              int, tags=("admin",)),
            R("POST", f"{A}/users/{{uid}}/apikeys", ad.create_key, ADMIN, None,
              "Create an API key + secret for a user", 201, S.ApiKey, tags=("admin",), errors=(1010,)),
            R("DELETE", f"{A}/users/{{uid}}/apikeys", ad.revoke_keys, ADMIN, None,
              "Revoke all API keys of a user (and end their WebSocket sessions)", 200, int, tags=("admin",)),
            R("GET", f"{T}/ping", mk.ping, PUBLIC, summary="Liveness", data=None, tags=("public",)),
            R("GET", f"{T}/time", mk.time, PUBLIC, summary="Server time", data=S.ServerTime, tags=("public",)),
            R("GET", f"{T}/info", mk.info, PUBLIC, summary="Assets and active symbols", data=S.Info,
              tags=("public",)),
            R("GET", f"{sym}/orderbook", mk.orderbook, PUBLIC, summary="L2 order book",
              data=S.OrderBook, query=(("depth", True, "levels per side; < 0 = all"),), tags=("public",),
              errors=(1007,)),
            R("GET", f"{sym}/bars/{{timeFrame}}", mk.get_bars, PUBLIC,
              summary="OHLCV bars (up to 100 closed + the current)", data=list[S.Bar], tags=("public",),
              errors=(1007,)),
            R("POST", ords, tr.place_order, USER, S.PlaceOrderRequest, "Place an order", 201, S.Order,
              tags=("trading",), errors=(1007, 1009, 1017)),
            R("GET", f"{ords}/{{orderId}}", tr.get_order, USER, summary="One order's status (active or finished)",
              data=S.Order, tags=("trading",), errors=(1007, 1018)),
            R("PUT", f"{ords}/{{orderId}}", tr.move_order, USER, S.MoveOrderRequest, "Move an order (new price)",
              200, S.Order, tags=("trading",), errors=(1007, 1009, 1017)),
            R("DELETE", f"{ords}/{{orderId}}", tr.cancel_order, USER, summary="Cancel an order", status=200,
              data=S.Order, tags=("trading",), errors=(1007,)),
            R("POST", f"{ords}/{{orderId}}/reduce", tr.reduce_order, USER, S.ReduceOrderRequest,
              "Reduce an order's open size, keeping its queue position", 200, S.Order, tags=("trading",),
              errors=(1007,)),
            R("GET", f"{T}/users/{{uid}}/state", tr.user_state, USER, summary="Balances and active orders",
              data=S.UserState, tags=("trading",), errors=(1010,)),
            R("GET", f"{T}/users/{{uid}}/history", tr.user_history, USER, summary="Finished orders with deals",
              data=S.UserHistory, tags=("trading",), errors=(1010,)),
            R("GET", "/openapi.json", mk.openapi, PUBLIC, summary="This API description", data=None,
              tags=("public",)),
        ]

    # ================================================================== WebSocket

    def _upgrade(self, req: Request, transport, rest: bytes):
        if req.path not in ("/ws", "/ws/"):
            return None
        key = None
        if HEADER_KEY in req.headers:
            # signed upgrade request (HMAC over timestamp + "GET" + path): authenticated from the
            # start, so it is never refused for the unauthenticated connections' share
            try:
                key = self._authenticate(req)
            except ApiError as exc:
                return error_response(exc.code, exc.message, exc.status)
        conn = WsConnection(self.hub, transport, req.raw_url.decode("latin-1"), req.headers, key)
        if rest and not conn.closed:
            conn.data_received(rest)
        return conn


def run_in_thread(gateway_factory, host: str = "127.0.0.1", port: int = 0):
    """Start a gateway on its own uvloop in a daemon thread (tests, embedding). Returns
    (gateway, port, stop) where ``stop()`` shuts it down and joins the thread."""
    import uvloop
    ready = threading.Event()
    box = {}

    def main():
        loop = uvloop.new_event_loop()
        asyncio.set_event_loop(loop)
        gw = gateway_factory()
        box["gw"] = gw
        box["loop"] = loop
        try:
            box["port"] = loop.run_until_complete(gw.start(host, port))
        except BaseException as exc:
            box["error"] = exc
            ready.set()
            return
        ready.set()
        loop.run_forever()
        loop.run_until_complete(gw.stop())
        loop.close()

    t = threading.Thread(target=main, name="gateway", daemon=True)
    t.start()
    ready.wait(30)
    if "error" in box:
        raise box["error"]

    def stop():
        box["loop"].call_soon_threadsafe(box["loop"].stop)
        t.join(30)
    return box["gw"], box["port"], stop
