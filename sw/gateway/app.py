"""The gateway: exchange-gateway-rest's REST API and WebSocket topics over one Exchange.

One process, one event loop (uvloop), two protocols on one port: HTTP/1.1 (``http.py``) and the
WebSocket upgrade on ``/ws`` (``ws.py``). Commands go through :class:`~ringgate.sw.gateway.bridge.Bridge`
into the one sequencer; results come back in sequence order and drive the order registry, bars
and topics (``_on_results``). See docs/gateway.md.
"""
from __future__ import annotations

import asyncio
import json
import logging
import os
import threading
import time
from collections import deque
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

import msgspec

from ringgate.sw.exchange import (AddAsset, AddSymbol, AddUser, AdjustBalance, CommandResultCode, Exchange,
                         OrderCommand, ReduceEvent, RejectEvent, ResumeUser, SuspendUser, TradeEvent, cancel,
                         move, place, reduce)

from . import schemas as S
from .auth import HEADER_KEY, HEADER_SIG, HEADER_TS, KeyStore
from .bars import TIME_FRAMES, Bars
from .bridge import Bridge
from .errors import ApiError, GwCode, envelope, error_response, protocol_error
from .feed import RingFeed
from .http import HttpServer, Limits, Request, Response
from .orders import (ACTIVE, CANCELLED, COMPLETED, FINAL, PARTIALLY_FILLED, REJECTED, GwOrder,
                     OrderRegistry)
from .units import AssetMeta, SymbolMeta, check_decimal, to_minor
from .ws import Hub, WsConnection

__all__ = ["Gateway", "REST_ORDER_ID_BASE", "ADMIN", "USER", "PUBLIC"]

_log = logging.getLogger("ringgate.sw.gateway")

REST_ORDER_ID_BASE = 1 << 40     # REST order ids start here; FPGA-ring clients use ids below it
PUBLIC, USER, ADMIN = "public", "user", "admin"
ADMIN_PREFIX = "/syncAdminApi/v1"
TRADE_PREFIX = "/syncTradeApi/v1"
TRADES_KEPT = 50
DEPTH_LEVELS = 50
_INT64 = 2**63 - 1

_decoders = {t: msgspec.json.Decoder(t) for t in S.REQUEST_TYPES}


def _core_name(code: int) -> str:
    try:
        return CommandResultCode(code).name
    except ValueError:
        return str(code)


def core_response(result, data, success: int) -> Response:
    """exchange-gateway-rest's ``coreResponse``: success status if the core said SUCCESS, else 400."""
    code = result.result_code
    return envelope(success if code == 100 else 400, data, 0, code, _core_name(code))


class Route:
    __slots__ = ("method", "template", "parts", "handler", "auth", "body", "summary", "status", "data",
                 "query", "tags", "errors")

    def __init__(self, method, template, handler, auth, body=None, summary="", status=200, data=None,
                 query=(), tags=(), errors=()):
        self.method = method
        self.template = template
        self.parts = template.strip("/").split("/")
        self.handler = handler
        self.auth = auth
        self.body = body
        self.summary = summary
        self.status = status
        self.data = data
        self.query = query
        self.tags = tags
        self.errors = errors


class Gateway:
    """Build with an Exchange; ``await start(host, port)`` inside a running loop."""

    def __init__(self, exchange: Exchange, meta_dir: str | Path | None = None, limits: Limits | None = None,
                 auth_window_ms: int = 5000, ws_max_buffer: int = 4 * 1024 * 1024, history_per_user: int = 1000,
                 max_ws_connections: int = 4096):
        self.ex = exchange
        self.meta_path = Path(meta_dir) / "gateway-meta.json" if meta_dir is not None else None
        self.limits = limits or Limits()
        self.keys = KeyStore(window_ms=auth_window_ms)
        self.assets: dict[str, AssetMeta] = {}
        self.assets_by_id: dict[int, AssetMeta] = {}
        self.symbols: dict[str, SymbolMeta] = {}
        self.symbols_by_id: dict[int, SymbolMeta] = {}
        self.orders = OrderRegistry(history_per_user)
        self.bars = Bars()
        self.trades: dict[int, deque] = {}
        self.depth_state: dict[int, tuple[dict, dict]] = {}
        self.balance_state: dict[int, dict] = {}
        self.ws_max_buffer = ws_max_buffer
        self.max_ws_connections = max_ws_connections
        self._pending_codes: set[str] = set()
        self._next_order_id = REST_ORDER_ID_BASE + exchange.seq + 1
        self.http: HttpServer | None = None
        self.hub: Hub | None = None
        self.bridge: Bridge | None = None
        self.feed: RingFeed | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.started_at = time.time()
        self._load_meta()
        self._seed_from_engine()
        self._routes = self._build_routes()
        self._static = {}
        self._match_cache: dict = {}
        self._dynamic: dict[int, list[Route]] = {}
        for r in self._routes:
            if "{" in r.template:
                self._dynamic.setdefault(len(r.parts), []).append(r)
            else:
                self._static.setdefault(r.template, {})[r.method] = r

    # ================================================================== lifecycle

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> int:
        self.loop = asyncio.get_running_loop()
        self.hub = Hub(self.loop, max_buffer=self.ws_max_buffer, max_connections=self.max_ws_connections)
        self.hub.authorize = self._ws_authorize
        self.hub.snapshot = self._ws_snapshot
        self.hub.authenticate = self._ws_authenticate
        self.bridge = Bridge(self.ex, self.loop, self._on_results)
        self.feed = RingFeed(self.bridge)
        self.http = HttpServer(self.handle, self.limits, on_upgrade=self._upgrade, error=protocol_error,
                               log_exception=lambda e: _log.error("handler failed", exc_info=e))
        await self.http.start(host, port)
        return self.http.port

    async def stop(self):
        if self.http:
            await self.http.stop()
        if self.hub:
            for c in list(self.hub.conns):
                c.transport.abort()
        if self.bridge:
            await asyncio.get_running_loop().run_in_executor(None, self.bridge.close)
            # the bridge thread may have queued last completions: let them run
            await asyncio.sleep(0)

    @property
    def port(self) -> int:
        return self.http.port

    # ================================================================== metadata

    def _load_meta(self):
        eng = self.ex.engine
        meta = {}
        if self.meta_path is not None and self.meta_path.exists():
            meta = json.loads(self.meta_path.read_text())
        with self.ex.lock:
            for a in eng.assets.values():
                am = AssetMeta(a.asset_id, a.code, a.scale)
                self.assets[a.code] = am
                self.assets_by_id[a.asset_id] = am
            smeta = meta.get("symbols", {})
            for s in eng.symbols.values():
                m = smeta.get(str(s.symbol_id), {})
                code = m.get("code") or f"S{s.symbol_id}"   # a crash between journal and meta file
                self._add_symbol_meta(SymbolMeta(
                    s.symbol_id, code, s.symbol_type, self.assets_by_id[s.base_currency],
                    self.assets_by_id[s.quote_currency], s.base_scale_k, s.quote_scale_k, s.taker_fee,
                    s.maker_fee, s.margin_buy, s.margin_sell, m.get("high", 0), m.get("low", 0)))
        for k in meta.get("keys", []):
            self.keys.add(k["uid"], k["role"], k["apiKey"], k["secret"])

    def _save_meta(self):
        if self.meta_path is None:
            return
        data = {"symbols": {str(s.symbol_id): {"code": s.code, "high": s.price_high, "low": s.price_low}
                            for s in self.symbols.values()},
                "keys": [k.view() for k in self.keys.keys.values()]}
        tmp = self.meta_path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)   # holds API secrets
        with os.fdopen(fd, "w") as f:
            json.dump(data, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.meta_path)

    def _add_symbol_meta(self, s: SymbolMeta):
        self.symbols[s.code] = s
        self.symbols_by_id[s.symbol_id] = s

    def _seed_from_engine(self):
        """After recovery the engine may hold resting orders: the registry must know them."""
        with self.ex.lock:
            uids = list(self.ex.engine.users)
        for uid in uids:
            rep = self.ex.user_report(uid)
            self.orders.known_users.add(uid)
            for r in rep.orders:
                o = GwOrder(r.order_id, r.symbol, uid, r.price, r.reserve_price, r.size, r.user_cookie,
                            r.action, r.order_type, source="recovered")
                o.filled = r.filled
                o.timestamp = r.timestamp
                o.state = PARTIALLY_FILLED if r.filled else ACTIVE
                self.orders.rest(o)
            if rep.orders:
                ids = [r.order_id for r in rep.orders if r.order_id >= REST_ORDER_ID_BASE]
                if ids:
                    self._next_order_id = max(self._next_order_id, max(ids) + 1)

    def add_key(self, uid: int, role: str = "user", api_key: str | None = None, secret: str | None = None):
        k = self.keys.add(uid, role, api_key, secret)
        self._save_meta()
        return k

    # ================================================================== HTTP dispatch

    def handle(self, req: Request):
        try:
            route, params = self._match(req)
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
            return self._error_for(exc)

    @staticmethod
    def _error_for(exc: BaseException) -> Response:
        if isinstance(exc, ApiError):
            return error_response(exc.code, exc.message, exc.status)
        if isinstance(exc, RuntimeError):        # journal failed earlier: the exchange refuses to go on
            _log.error("command failed: %s", exc)
            return error_response(GwCode.SERVICE_UNAVAILABLE, f"exchange unavailable: {exc}")
        if isinstance(exc, OSError):
            return error_response(GwCode.SERVICE_UNAVAILABLE, f"journal write failed: {exc}")
        raise exc

    def _then(self, cmd, build, on_error=None) -> asyncio.Future:
        """Submit ``cmd``; a future of ``build(result)``, built by the bridge when the sequencer
        answers. The hot trading paths use this instead of a coroutine: no Task per request."""
        def failed(exc):
            if on_error is not None:
                on_error()
            return self._error_for(exc)
        return self._submit(cmd, build, failed)

    def _match(self, req: Request):
        # clients hit the same few paths (their uid, their symbols) over and over
        key = (req.method, req.path)
        hit = self._match_cache.get(key)
        if hit is not None:
            return hit[0], dict(hit[1])
        route, params = self._match_slow(req)
        if len(self._match_cache) >= 8192:
            self._match_cache.clear()
        self._match_cache[key] = (route, dict(params))
        return route, params

    def _match_slow(self, req: Request):
        path = req.path
        if len(path) > 1 and path.endswith("/"):
            path = path[:-1]
        by_method = self._static.get(path)
        if by_method is not None:
            r = by_method.get(req.method) or (by_method.get("GET") if req.method == "HEAD" else None)
            if r is None:
                raise ApiError(GwCode.METHOD_NOT_ALLOWED, f"{req.method} not allowed on {path}; "
                               f"allowed: {', '.join(sorted(by_method))}")
            return r, {}
        parts = path.strip("/").split("/")
        allowed = []
        for r in self._dynamic.get(len(parts), ()):
            params = {}
            for t, p in zip(r.parts, parts):
                if t[0] == "{":
                    params[t[1:-1]] = p
                elif t != p:
                    break
            else:
                if r.method == req.method or (req.method == "HEAD" and r.method == "GET"):
                    return r, params
                allowed.append(r.method)
        if allowed:
            raise ApiError(GwCode.METHOD_NOT_ALLOWED,
                           f"{req.method} not allowed on {path}; allowed: {', '.join(sorted(allowed))}")
        raise ApiError(GwCode.NOT_FOUND, f"no such endpoint: {req.method} {path}")

    def _authenticate(self, req: Request):
        h = req.headers
        raw = req.raw_url.decode("latin-1")
        return self.keys.verify(h.get(HEADER_KEY), h.get(HEADER_TS), h.get(HEADER_SIG), req.method, raw, req.body)

    def _authorize(self, route: Route, params: dict, key):
        if route.auth is ADMIN:
            if not key.admin:
                raise ApiError(GwCode.FORBIDDEN, "this endpoint needs the admin credential")
            return
        uid = self._uid(params["uid"])
        params["uid"] = uid
        if key.uid == uid and not key.admin:
            return
        if key.admin and route.method == "GET":
            return                              # operators may read, never trade as a user
        raise ApiError(GwCode.FORBIDDEN, f"API key of uid {key.uid} ({key.role}) may not access uid {uid}")

    # ================================================================== helpers

    @staticmethod
    def _uid(s) -> int:
        if isinstance(s, int):
            return s
        if not s.isdigit() or not 1 <= int(s) <= _INT64:
            raise ApiError(GwCode.INVALID_REQUEST, f"path parameter `uid` must be an integer in 1..2^63-1, got {s!r}")
        return int(s)

    @staticmethod
    def _order_id(s: str) -> int:
        if not s.isdigit() or not 0 <= int(s) <= _INT64:
            raise ApiError(GwCode.INVALID_REQUEST, f"path parameter `orderId` must be an integer in 0..2^63-1, "
                           f"got {s!r}")
        return int(s)

    def _symbol(self, code: str) -> SymbolMeta:
        s = self.symbols.get(code)
        if s is None:
            raise ApiError(GwCode.UNKNOWN_SYMBOL_404, f"unknown symbol {code!r}")
        return s

    @staticmethod
    def _body(req: Request, typ):
        ct = req.headers.get("content-type")
        if ct is not None and "json" not in ct.lower():
            raise ApiError(GwCode.UNSUPPORTED_MEDIA_TYPE, f"Content-Type must be application/json, got {ct!r}",
                           415)
        if not req.body:
            raise ApiError(GwCode.INVALID_REQUEST, f"request body is required: a JSON object ({typ.__name__})")
        try:
            return _decoders[typ].decode(req.body)
        except msgspec.ValidationError as exc:
            raise ApiError(GwCode.INVALID_REQUEST, f"invalid request body: {exc}") from None
        except msgspec.DecodeError as exc:
            raise ApiError(GwCode.INVALID_REQUEST, f"malformed JSON body: {exc}") from None

    def _submit(self, cmd, build=None, on_error=None):
        if self.bridge.failed is not None:
            raise ApiError(GwCode.SERVICE_UNAVAILABLE, f"exchange journal failed: {self.bridge.failed}")
        return self.bridge.submit(cmd, build, on_error)

    def order_view(self, o: GwOrder, deals: bool = True) -> dict:
        s = self.symbols_by_id.get(o.symbol)
        if s is not None:
            price, unit, reserve = s.price(o.price), s.unit_price(o.price), s.price(o.reserve_price)
            code = s.code
        else:
            price = unit = Decimal(o.price)
            reserve = Decimal(o.reserve_price)
            code = str(o.symbol)
        v = {"orderId": o.order_id, "price": price, "unitPrice": unit, "reservePrice": reserve, "size": o.size,
             "filled": o.filled, "state": o.state, "userCookie": o.user_cookie,
             "action": S.ACTIONS[o.action] if o.action in (0, 1) else str(o.action),
             "orderType": S.ORDER_TYPES[o.order_type] if 0 <= o.order_type < 5 else str(o.order_type),
             "symbol": code, "uid": o.uid, "timestamp": o.timestamp // 1_000_000, "rejectCode": o.reject_code}
        if deals:
            p = s.price if s is not None else Decimal
            v["deals"] = [{"price": p(dp), "size": ds, "party": party, "timestamp": ts // 1_000_000}
                          for dp, ds, party, ts in o.deals]
        return v

    # ================================================================== routes

    def _build_routes(self) -> list[Route]:
        A, T = ADMIN_PREFIX, TRADE_PREFIX
        sym = f"{T}/symbols/{{symbol}}"
        ords = f"{sym}/trade/{{uid}}/orders"
        R = Route
        return [
            R("POST", f"{A}/assets", self.add_asset, ADMIN, S.AddAssetRequest, "Add an asset (currency)", 201,
              S.AddAssetRequest, tags=("admin",), errors=(1003,)),
            R("POST", f"{A}/symbols", self.add_symbol, ADMIN, S.AddSymbolRequest, "Add a symbol", 201,
              S.SymbolSpec, tags=("admin",), errors=(1000, 1001, 1002, 1008)),
            R("POST", f"{A}/users", self.add_user, ADMIN, S.AddUserRequest,
              "Add a user (201 even when it exists: see coreResultCode, as exchange-gateway-rest)", 201, int,
              tags=("admin",)),
            R("POST", f"{A}/users/{{uid}}/accounts", self.adjust_balance, ADMIN, S.BalanceAdjustmentRequest,
              "Deposit (amount > 0) or withdraw (amount < 0)", 201, int, tags=("admin",), errors=(1004, 1005)),
            R("POST", f"{A}/users/{{uid}}/suspend", self.suspend_user, ADMIN, None,
              "Suspend a user (needs zero balances, no open orders)", 200, int, tags=("admin",)),
            R("POST", f"{A}/users/{{uid}}/resume", self.resume_user, ADMIN, None, "Resume a suspended user", 200,
              int, tags=("admin",)),
            R("POST", f"{A}/users/{{uid}}/apikeys", self.create_key, ADMIN, None,
              "Create an API key + secret for a user", 201, S.ApiKey, tags=("admin",), errors=(1010,)),
            R("DELETE", f"{A}/users/{{uid}}/apikeys", self.revoke_keys, ADMIN, None,
              "Revoke all API keys of a user", 200, int, tags=("admin",)),
            R("GET", f"{T}/ping", self.ping, PUBLIC, summary="Liveness", data=None, tags=("public",)),
            R("GET", f"{T}/time", self.time, PUBLIC, summary="Server time", data=S.ServerTime, tags=("public",)),
            R("GET", f"{T}/info", self.info, PUBLIC, summary="Assets and active symbols", data=S.Info,
              tags=("public",)),
            R("GET", f"{sym}/orderbook", self.orderbook, PUBLIC, summary="L2 order book",
              data=S.OrderBook, query=(("depth", True, "levels per side; < 0 = all"),), tags=("public",),
              errors=(1007,)),
            R("GET", f"{sym}/bars/{{timeFrame}}", self.get_bars, PUBLIC,
              summary="OHLCV bars (up to 100 closed + the current)", data=list[S.Bar], tags=("public",),
              errors=(1007,)),
            R("POST", ords, self.place_order, USER, S.PlaceOrderRequest, "Place an order", 201, S.Order,
              tags=("trading",), errors=(1007, 1009, 1017)),
            R("GET", f"{ords}/{{orderId}}", self.get_order, USER, summary="One order's status (active or finished)",
              data=S.Order, tags=("trading",), errors=(1007, 1018)),
            R("PUT", f"{ords}/{{orderId}}", self.move_order, USER, S.MoveOrderRequest, "Move an order (new price)",
              200, S.Order, tags=("trading",), errors=(1007, 1009, 1017)),
            R("DELETE", f"{ords}/{{orderId}}", self.cancel_order, USER, summary="Cancel an order", status=200,
              data=S.Order, tags=("trading",), errors=(1007,)),
            R("POST", f"{ords}/{{orderId}}/reduce", self.reduce_order, USER, S.ReduceOrderRequest,
              "Reduce an order's open size, keeping its queue position", 200, S.Order, tags=("trading",),
              errors=(1007,)),
            R("GET", f"{T}/users/{{uid}}/state", self.user_state, USER, summary="Balances and active orders",
              data=S.UserState, tags=("trading",), errors=(1010,)),
            R("GET", f"{T}/users/{{uid}}/history", self.user_history, USER, summary="Finished orders with deals",
              data=S.UserHistory, tags=("trading",), errors=(1010,)),
            R("GET", "/openapi.json", self.openapi, PUBLIC, summary="This API description", data=None,
              tags=("public",)),
        ]

    # ------------------------------------------------------------------ admin

    async def add_asset(self, req, p, key):
        b = self._body(req, S.AddAssetRequest)
        if b.assetCode in self.assets or b.assetCode in self._pending_codes:
            raise ApiError(GwCode.ASSET_ALREADY_EXISTS, f"asset {b.assetCode!r} already exists")
        self._pending_codes.add(b.assetCode)
        try:
            r = await self._submit(AddAsset(b.assetId, b.assetCode, b.scale))
        finally:
            self._pending_codes.discard(b.assetCode)
        if r.ok:
            am = AssetMeta(b.assetId, b.assetCode, b.scale)
            self.assets[am.code] = am
            self.assets_by_id[am.asset_id] = am
        return core_response(r, msgspec.to_builtins(b), 201)

    async def add_symbol(self, req, p, key):
        b = self._body(req, S.AddSymbolRequest)
        if b.symbolId in self.symbols_by_id or b.symbolCode in self.symbols or \
                ("sym:" + b.symbolCode) in self._pending_codes:
            raise ApiError(GwCode.SYMBOL_ALREADY_EXISTS, f"symbol {b.symbolCode!r} / id {b.symbolId} already exists")
        base = self.assets.get(b.baseAsset)
        if base is None:
            raise ApiError(GwCode.UNKNOWN_BASE_ASSET, f"unknown base asset {b.baseAsset!r}")
        quote = self.assets.get(b.quoteCurrency)
        if quote is None:
            raise ApiError(GwCode.UNKNOWN_QUOTE_CURRENCY, f"unknown quote currency {b.quoteCurrency!r}")
        if base is quote:
            raise ApiError(GwCode.INVALID_CONFIGURATION, "invalid configuration: baseAsset equals quoteCurrency")
        ic = GwCode.INVALID_CONFIGURATION

        def minor(v, scale, field, positive=False):
            i = to_minor(v, scale, field, ic)
            if positive and i <= 0:
                raise ApiError(ic, f"invalid configuration: `{field}` must be > 0")
            return i

        bsk = minor(b.lotSize, base.scale, "lotSize", True)
        qsk = minor(b.stepSize, quote.scale, "stepSize", True)
        taker = minor(b.takerFee, quote.scale, "takerFee")
        maker = minor(b.makerFee, quote.scale, "makerFee")
        if taker < maker:
            raise ApiError(ic, "invalid configuration: takerFee must be >= makerFee")
        mb = minor(b.marginBuy, quote.scale, "marginBuy")
        ms = minor(b.marginSell, quote.scale, "marginSell")
        stype = S.SYMBOL_TYPE_CODES[b.symbolType]
        if stype == 0 and (mb or ms):
            raise ApiError(ic, "invalid configuration: marginBuy/marginSell must be 0 for an exchange pair")
        if stype == 1 and (mb <= 0 or ms <= 0):
            raise ApiError(ic, "invalid configuration: marginBuy/marginSell must be > 0 for a futures contract")
        meta = SymbolMeta(b.symbolId, b.symbolCode, stype, base, quote, bsk, qsk, taker, maker, mb, ms)
        try:
            meta.price_high = meta.steps(b.priceHighLimit, "priceHighLimit")
            meta.price_low = meta.steps(b.priceLowLimit, "priceLowLimit")
        except ApiError as exc:
            raise ApiError(ic, f"invalid configuration: {exc.message}") from None
        if meta.price_high and meta.price_low > meta.price_high:
            raise ApiError(ic, "invalid configuration: priceLowLimit is above priceHighLimit")
        self._pending_codes.add("sym:" + b.symbolCode)
        try:
            r = await self._submit(AddSymbol(b.symbolId, stype, base.asset_id, quote.asset_id, bsk, qsk, taker,
                                             maker, mb, ms))
        finally:
            self._pending_codes.discard("sym:" + b.symbolCode)
        if r.ok:
            self._add_symbol_meta(meta)
            self._save_meta()
        return core_response(r, meta.view(), 201)

    async def add_user(self, req, p, key):
        b = self._body(req, S.AddUserRequest)
        r = await self._submit(AddUser(b.uid))
        if r.ok:
            self.orders.known_users.add(b.uid)
        # exchange-gateway-rest answers 201 whatever the core said (duplicates: coreResultCode -4001)
        return envelope(201, b.uid, 0, r.result_code, _core_name(r.result_code))

    async def adjust_balance(self, req, p, key):
        uid = self._uid(p["uid"])
        b = self._body(req, S.BalanceAdjustmentRequest)
        a = self.assets.get(b.currency)
        if a is None:
            raise ApiError(GwCode.UNKNOWN_CURRENCY, f"unknown currency {b.currency!r}")
        amount = to_minor(b.amount, a.scale, "amount", allow_negative=True)
        r = await self._submit(AdjustBalance(uid, a.asset_id, amount, b.transactionId))
        return core_response(r, uid, 201)

    async def suspend_user(self, req, p, key):
        uid = self._uid(p["uid"])
        return core_response(await self._submit(SuspendUser(uid)), uid, 200)

    async def resume_user(self, req, p, key):
        uid = self._uid(p["uid"])
        return core_response(await self._submit(ResumeUser(uid)), uid, 200)

    def create_key(self, req, p, key):
        uid = self._uid(p["uid"])
        if self.ex.user_report(uid) is None:
            raise ApiError(GwCode.UNKNOWN_USER_404, f"unknown user {uid}")
        return envelope(201, self.add_key(uid).view())

    def revoke_keys(self, req, p, key):
        uid = self._uid(p["uid"])
        n = self.keys.revoke(uid)
        self._save_meta()
        return envelope(200, n)

    # ------------------------------------------------------------------ public

    def ping(self, req, p, key):
        return envelope(200, None)

    @staticmethod
    def _server_time() -> dict:
        now = time.time()
        iso = datetime.fromtimestamp(now, timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        return {"isoTime": iso, "epoch": int(now * 1000)}

    def time(self, req, p, key):
        return envelope(200, self._server_time())

    def info(self, req, p, key):
        return envelope(200, {"serverTime": self._server_time(),
                              "assets": [{"assetCode": a.code, "scale": a.scale} for a in self.assets.values()],
                              "symbols": [s.info_view() for s in self.symbols.values()]})

    def orderbook(self, req, p, key):
        s = self._symbol(p["symbol"])
        depth = None
        for part in req.query.split("&"):
            if part.startswith("depth="):
                depth = part[6:]
        if depth is None:
            raise ApiError(GwCode.INVALID_REQUEST, "query parameter `depth` is required (integer; < 0 = full book)")
        try:
            d = int(depth)
            if not -2**31 <= d < 2**31:
                raise ValueError
        except ValueError:
            raise ApiError(GwCode.INVALID_REQUEST, f"query parameter `depth` must be an integer, got {depth!r}") \
                from None
        book = self.ex.order_book(s.symbol_id, d)
        return envelope(200, self._book_view(s, book), 0, 100, "SUCCESS")

    @staticmethod
    def _book_view(s: SymbolMeta, book) -> dict:
        return {"symbol": s.code,
                "askPrices": [s.price(x.price) for x in book.asks], "askVolumes": [x.volume for x in book.asks],
                "askOrders": [x.orders for x in book.asks],
                "bidPrices": [s.price(x.price) for x in book.bids], "bidVolumes": [x.volume for x in book.bids],
                "bidOrders": [x.orders for x in book.bids], "seq": book.seq}

    def _bars_view(self, s: SymbolMeta, tf: str) -> list:
        pr = s.price
        return [{"open": pr(o), "high": pr(h), "low": pr(lo), "close": pr(c), "volume": v, "timestamp": t}
                for t, o, h, lo, c, v in self.bars.get(s.symbol_id, tf)]

    def get_bars(self, req, p, key):
        s = self._symbol(p["symbol"])
        tf = p["timeFrame"]
        if tf not in TIME_FRAMES:
            raise ApiError(GwCode.INVALID_REQUEST, f"path parameter `timeFrame` must be one of "
                           f"{', '.join(TIME_FRAMES)}, got {tf!r}")
        return envelope(200, self._bars_view(s, tf))

    def openapi(self, req, p, key):
        from .openapi import spec_bytes
        return Response(200, spec_bytes(self))

    # ------------------------------------------------------------------ trading

    def _price(self, s: SymbolMeta, price, unit_price, budget: bool) -> int:
        if (price is None) == (unit_price is None):
            raise ApiError(GwCode.INVALID_REQUEST, "exactly one of `price` (per lot) and `unitPrice` "
                           "(per whole base unit) is required")
        if budget and unit_price is not None:
            raise ApiError(GwCode.INVALID_REQUEST, "`unitPrice` is not allowed for budget orders: "
                           "`price` is the order's total budget")
        steps = s.steps(price) if price is not None else s.unit_steps(unit_price)
        if not budget:
            field = "price" if price is not None else "unitPrice"
            if s.price_high and steps > s.price_high:
                raise ApiError(GwCode.PRICE_OUT_OF_LIMITS, f"`{field}` is above the symbol's priceHighLimit "
                               f"{s.price(s.price_high)} per lot")
            if s.price_low and steps < s.price_low:
                raise ApiError(GwCode.PRICE_OUT_OF_LIMITS, f"`{field}` is below the symbol's priceLowLimit "
                               f"{s.price(s.price_low)} per lot")
        return steps

    def place_order(self, req, p, key):
        s = self._symbol(p["symbol"])
        uid = p["uid"]
        b = self._body(req, S.PlaceOrderRequest)
        ot = S.ORDER_TYPE_CODES[b.orderType]
        side = S.ACTION_CODES[b.action]
        budget = ot in (2, 4)
        steps = self._price(s, b.price, b.unitPrice, budget)
        if b.reservePrice is not None:
            if side == 0:
                raise ApiError(GwCode.INVALID_REQUEST, "`reservePrice` applies to bids only")
            reserve = s.steps(check_decimal(b.reservePrice, "reservePrice"), "reservePrice")
        else:
            reserve = steps if side == 1 else 0
        oid = self._next_order_id
        self._next_order_id += 1
        o = GwOrder(oid, s.symbol_id, uid, steps, reserve, b.size, b.userCookie, side, ot)
        self.orders.register_pending(o)           # before submission: no event can beat it
        sid = s.symbol_id
        return self._then(place(uid, sid, oid, side, steps, b.size, ot, reserve, b.userCookie),
                          lambda r: core_response(r, self.order_view(o), 201),
                          lambda: self.orders.take_pending(sid, oid))

    def get_order(self, req, p, key):
        s = self._symbol(p["symbol"])
        oid = self._order_id(p["orderId"])
        o = self.orders.find(p["uid"], s.symbol_id, oid)
        if o is None:
            raise ApiError(GwCode.UNKNOWN_ORDER_404, f"no order {oid} of uid {p['uid']} on {s.code}")
        return envelope(200, self.order_view(o))

    def _owned(self, uid, s, oid):
        o = self.orders.find(uid, s.symbol_id, oid)
        return self.order_view(o) if o is not None else None

    def move_order(self, req, p, key):
        s = self._symbol(p["symbol"])
        oid = self._order_id(p["orderId"])
        b = self._body(req, S.MoveOrderRequest)
        o = self.orders.get(s.symbol_id, oid)
        budget = o is not None and o.order_type in (2, 4)
        steps = self._price(s, b.price, b.unitPrice, budget)
        uid = p["uid"]
        return self._then(move(uid, s.symbol_id, oid, steps),
                          lambda r: core_response(r, self._owned(uid, s, oid), 200))

    def cancel_order(self, req, p, key):
        s = self._symbol(p["symbol"])
        oid = self._order_id(p["orderId"])
        uid = p["uid"]
        return self._then(cancel(uid, s.symbol_id, oid), lambda r: core_response(r, self._owned(uid, s, oid), 200))

    def reduce_order(self, req, p, key):
        s = self._symbol(p["symbol"])
        oid = self._order_id(p["orderId"])
        b = self._body(req, S.ReduceOrderRequest)
        uid = p["uid"]
        return self._then(reduce(uid, s.symbol_id, oid, b.reduceSize),
                          lambda r: core_response(r, self._owned(uid, s, oid), 200))

    def _accounts(self, rep) -> list:
        out = []
        for cur in sorted(set(rep.accounts) | set(rep.held)):
            a = self.assets_by_id.get(cur)
            conv = a.to_decimal if a is not None else Decimal
            out.append({"currency": a.code if a is not None else str(cur), "balance": conv(rep.accounts.get(cur, 0)),
                        "held": conv(rep.held.get(cur, 0))})
        return out

    def user_state(self, req, p, key):
        uid = p["uid"]
        rep = self.ex.user_report(uid)
        if rep is None:
            raise ApiError(GwCode.UNKNOWN_USER_404, f"unknown user {uid}")
        active = []
        for r in rep.orders:
            o = self.orders.get(r.symbol, r.order_id)
            if o is None or o.uid != uid:       # not seen through the gateway (cannot happen after seeding)
                o = GwOrder(r.order_id, r.symbol, uid, r.price, r.reserve_price, r.size, r.user_cookie, r.action,
                            r.order_type, source="engine")
                o.filled, o.timestamp = r.filled, r.timestamp
                o.state = PARTIALLY_FILLED if r.filled else ACTIVE
            active.append(self.order_view(o))
        return envelope(200, {"uid": uid, "status": "SUSPENDED" if rep.status else "ACTIVE",
                              "activeOrders": active, "accounts": self._accounts(rep)})

    def user_history(self, req, p, key):
        uid = p["uid"]
        if uid not in self.orders.known_users and self.ex.user_report(uid) is None:
            raise ApiError(GwCode.UNKNOWN_USER_404, f"unknown user {uid}")
        return envelope(200, {"uid": uid, "orders": [self.order_view(o) for o in self.orders.user_history(uid)]})

    # ================================================================== results -> registry, topics

    def _on_results(self, results: list):
        orders = self.orders
        hub = self.hub
        touched_syms: set[int] = set()
        touched_uids: set[int] = set()
        bar_updates: dict[tuple[int, str], list] = {}
        for r in results:
            c = r.command
            if type(c) is OrderCommand:
                cmd = c.cmd
                sym = c.symbol
                ok = r.result_code == 100
                if cmd == 1:
                    o = orders.take_pending(sym, c.order_id)
                    if o is None:                 # from the FPGA ring (or another submitter)
                        o = GwOrder(c.order_id, sym, c.uid, c.price, c.reserve_price, c.size, c.user_cookie,
                                    c.side, c.order_type, source="ring")
                    o.timestamp = r.timestamp
                    touched_uids.add(c.uid)
                    if not ok:
                        o.reject_code = r.result_code
                        orders.finish(o, REJECTED)
                        self._push_order(o, "rejected")
                        continue
                    touched_syms.add(sym)
                    o.state = ACTIVE
                    self._events(r, o, touched_uids, bar_updates)
                    if o.state not in FINAL:
                        if o.filled >= o.size:
                            orders.finish(o, COMPLETED)
                        else:
                            o.state = PARTIALLY_FILLED if o.filled else ACTIVE
                            orders.rest(o)
                        if not r.events:
                            self._push_order(o, "placed")
                elif not ok:
                    continue
                elif cmd == 3:
                    o = orders.get(sym, c.order_id)
                    touched_syms.add(sym)
                    touched_uids.add(c.uid)
                    if o is not None:
                        o.price = c.price
                    self._events(r, o, touched_uids, bar_updates)
                    if o is not None and o.state not in FINAL:
                        if o.filled >= o.size:
                            orders.finish(o, COMPLETED)
                        self._push_order(o, "moved")
                else:                                # cancel / reduce: one ReduceEvent
                    touched_syms.add(sym)
                    touched_uids.add(c.uid)
                    for ev in r.events:
                        if type(ev) is ReduceEvent:
                            o = orders.get(sym, ev.order_id)
                            if o is None:
                                continue
                            if cmd == 4:
                                o.size -= ev.reduced_volume
                            if ev.order_completed:
                                orders.finish(o, CANCELLED)
                            self._push_order(o, "cancelled" if cmd == 2 else "reduced")
            elif type(c) is AdjustBalance:
                touched_uids.add(c.uid)
        if hub is None:
            return
        for (sym, tf), bar in bar_updates.items():
            s = self.symbols_by_id.get(sym)
            code = s.code if s else str(sym)
            pr = s.price if s else Decimal
            hub.publish_lazy(f"bars.{code}.{tf}", lambda pr=pr, bar=bar: {
                "open": pr(bar[1]), "high": pr(bar[2]), "low": pr(bar[3]), "close": pr(bar[4]),
                "volume": bar[5], "timestamp": bar[0]})
        for sym in touched_syms:
            s = self.symbols_by_id.get(sym)
            if s is not None and hub.has_subscribers(f"depth.{s.code}"):
                self._push_depth(s)
        for uid in touched_uids:
            if hub.has_subscribers(f"balances.{uid}"):
                self._push_balances(uid)

    def _events(self, r, taker: GwOrder | None, touched_uids: set, bar_updates: dict):
        orders = self.orders
        hub = self.hub
        rejected = False
        for ev in r.events:         # exchange-core's order: a reject (if any) first, then the trades
            t = type(ev)
            if t is RejectEvent:
                rejected = True
            elif t is TradeEvent:
                sym = ev.symbol
                s = self.symbols_by_id.get(sym)
                code = s.code if s else str(sym)
                recent = self.trades.get(sym)
                if recent is None:
                    recent = self.trades[sym] = deque(maxlen=TRADES_KEPT)
                ts = ev.timestamp
                for tr in ev.trades:
                    m = orders.get(sym, tr.maker_order_id)
                    touched_uids.add(tr.maker_uid)
                    if m is not None and m is not taker:
                        m.filled += tr.volume
                        m.deals.append((tr.price, tr.volume, "MAKER", ts))
                        if tr.maker_order_completed:
                            orders.finish(m, COMPLETED)
                        else:
                            m.state = PARTIALLY_FILLED
                        self._push_order(m, "trade")
                    if taker is not None:
                        taker.filled += tr.volume
                        taker.deals.append((tr.price, tr.volume, "TAKER", ts))
                    trade = {"price": s.price(tr.price) if s else tr.price,
                             "unitPrice": s.unit_price(tr.price) if s else tr.price,
                             "volume": tr.volume, "takerAction": S.ACTIONS[ev.taker_action],
                             "timestamp": ts // 1_000_000, "seq": r.seq}
                    recent.append(trade)
                    if hub is not None:
                        hub.publish(f"trades.{code}", trade)
                    for tf, bar in self.bars.trade(sym, ts, tr.price, tr.volume).items():
                        bar_updates[(sym, tf)] = bar
                if taker is not None:
                    if ev.taker_order_completed:
                        orders.finish(taker, COMPLETED)
                    else:
                        taker.state = PARTIALLY_FILLED
                    self._push_order(taker, "trade")
        if rejected and taker is not None:
            # the remainder goes after the fills: a client sees PARTIALLY_FILLED, then REJECTED
            orders.finish(taker, REJECTED)
            self._push_order(taker, "rejected")

    # ------------------------------------------------------------------ topic payloads

    def _push_order(self, o: GwOrder, event: str):
        hub = self.hub
        if hub is None:
            return

        def make():
            v = self.order_view(o, deals=False)
            v["event"] = event
            if o.deals and event == "trade":
                dp, ds, party, ts = o.deals[-1]
                s = self.symbols_by_id.get(o.symbol)
                v["lastDeal"] = {"price": s.price(dp) if s else dp, "size": ds, "party": party,
                                 "timestamp": ts // 1_000_000}
            return v
        hub.publish_lazy(f"orders.{o.uid}", make)

    def _depth_levels(self, s: SymbolMeta):
        book = self.ex.order_book(s.symbol_id, DEPTH_LEVELS)
        return ({x.price: (x.volume, x.orders) for x in book.asks},
                {x.price: (x.volume, x.orders) for x in book.bids}, book.seq)

    def _levels_view(self, s, levels: dict, reverse: bool) -> list:
        return [[s.price(p), v, n] for p, (v, n) in sorted(levels.items(), reverse=reverse)]

    def _push_depth(self, s: SymbolMeta):
        asks, bids, seq = self._depth_levels(s)
        old_a, old_b = self.depth_state.get(s.symbol_id, ({}, {}))
        da = {p: asks.get(p, (0, 0)) for p in set(asks) | set(old_a) if asks.get(p) != old_a.get(p)}
        db = {p: bids.get(p, (0, 0)) for p in set(bids) | set(old_b) if bids.get(p) != old_b.get(p)}
        self.depth_state[s.symbol_id] = (asks, bids)
        if da or db:
            self.hub.publish(f"depth.{s.code}", {"asks": self._levels_view(s, da, False),
                                                 "bids": self._levels_view(s, db, True), "bookSeq": seq})

    def _balances(self, uid: int) -> dict:
        rep = self.ex.user_report(uid)
        return {"accounts": self._accounts(rep) if rep is not None else []}

    def _push_balances(self, uid: int):
        b = self._balances(uid)
        if b != self.balance_state.get(uid):
            self.balance_state[uid] = b
            self.hub.publish(f"balances.{uid}", b)

    # ------------------------------------------------------------------ WebSocket access

    def _upgrade(self, req: Request, transport, rest: bytes):
        if req.path not in ("/ws", "/ws/"):
            return None
        conn = WsConnection(self.hub, transport, req.raw_url.decode("latin-1"), req.headers)
        if rest and not conn.closed:
            conn.data_received(rest)
        return conn

    def _ws_authenticate(self, conn, op):
        return self.keys.verify(op.apiKey, op.timestamp, op.signature, "GET", "/ws")

    def _parse_topic(self, name: str):
        parts = name.split(".")
        kind = parts[0]
        if kind in ("trades", "depth") and len(parts) == 2:
            return kind, self._symbol(parts[1]), None
        if kind == "bars" and len(parts) == 3:
            if parts[2] not in TIME_FRAMES:
                raise ApiError(GwCode.INVALID_REQUEST, f"unknown time frame {parts[2]!r} in topic {name!r}")
            return kind, self._symbol(parts[1]), parts[2]
        if kind in ("orders", "balances") and len(parts) == 2:
            try:
                return kind, None, self._uid(parts[1])
            except ApiError:
                raise ApiError(GwCode.INVALID_REQUEST, f"topic {name!r}: uid must be a positive integer") from None
        raise ApiError(GwCode.INVALID_REQUEST, f"unknown topic {name!r}: expected trades.<symbol>, "
                       "depth.<symbol>, bars.<symbol>.<M1|M5|M15|H1|H4|D1|W1>, orders.<uid> or balances.<uid>")

    def _ws_authorize(self, conn, name: str):
        kind, s, extra = self._parse_topic(name)
        if kind in ("orders", "balances"):
            if conn.key is None:
                raise ApiError(GwCode.UNAUTHORIZED, f"topic {name!r} is private: send an auth message first")
            if conn.key.uid != extra and not conn.key.admin:
                raise ApiError(GwCode.FORBIDDEN, f"API key of uid {conn.key.uid} may not subscribe to {name!r}")

    def _ws_snapshot(self, conn, name: str):
        kind, s, extra = self._parse_topic(name)
        if kind == "trades":
            return list(self.trades.get(s.symbol_id, ()))
        if kind == "bars":
            return self._bars_view(s, extra)
        if kind == "depth":
            if not self.hub.has_subscribers(name) or s.symbol_id not in self.depth_state:
                asks, bids, _ = self._depth_levels(s)
                self.depth_state[s.symbol_id] = (asks, bids)
            asks, bids = self.depth_state[s.symbol_id]
            return {"asks": self._levels_view(s, asks, False), "bids": self._levels_view(s, bids, True)}
        if kind == "orders":
            return [self.order_view(o, deals=False) for o in self.orders.user_active(extra)]
        b = self._balances(extra)
        self.balance_state[extra] = b
        return b


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
