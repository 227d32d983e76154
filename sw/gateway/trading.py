"""Trading endpoints of one user (``.../trade/{uid}/orders``, ``/users/{uid}/...``): place, status,
move, cancel, reduce, state, history. The caller's key has been checked against ``uid``.

The hot paths (place, move, cancel, reduce) answer through ``Gateway.then``: the reply is built
by the bridge when the sequencer's result arrives, with no asyncio Task per request.
"""
from __future__ import annotations

from ringgate.sw.exchange import cancel, move, place, reduce

from . import schemas as S
from .errors import ApiError, GwCode, core_response, envelope
from .orders import ACTIVE, PARTIALLY_FILLED, GwOrder
from .routes import parse_order_id
from .units import SymbolMeta, check_decimal
from .views import accounts_view, order_view

__all__ = ["TradingApi", "REST_ORDER_ID_BASE"]

REST_ORDER_ID_BASE = 1 << 40     # REST order ids start here; FPGA-ring clients use ids below it
_BUDGET = (2, 4)                 # IOC_BUDGET, FOK_BUDGET: `price` is the order's total budget


class TradingApi:
    """Handlers of the trading routes; ``gw`` is the :class:`~ringgate.sw.gateway.app.Gateway`."""

    def __init__(self, gw):
        self.gw = gw
        self.meta = gw.meta
        self.orders = gw.orders
        # each REST order takes one sequence number, but an id taken by a request that then failed
        # did not: also stay above every resting REST id, the only ones a duplicate would clash with
        rest_ids = [k[1] for k in self.orders.active if k[1] >= REST_ORDER_ID_BASE]
        self.next_order_id = max([REST_ORDER_ID_BASE + gw.ex.seq + 1] + [i + 1 for i in rest_ids])

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
        s = self.meta.symbol(p["symbol"])
        uid = p["uid"]
        b = self.gw.body(req, S.PlaceOrderRequest)
        ot = S.ORDER_TYPE_CODES[b.orderType]
        side = S.ACTION_CODES[b.action]
        steps = self._price(s, b.price, b.unitPrice, ot in _BUDGET)
        if b.reservePrice is not None:
            if side == 0:
                raise ApiError(GwCode.INVALID_REQUEST, "`reservePrice` applies to bids only")
            reserve = s.steps(check_decimal(b.reservePrice, "reservePrice"), "reservePrice")
        else:
            reserve = steps                       # as exchange-gateway-rest, for either side
        oid = self.next_order_id
        self.next_order_id += 1
        o = GwOrder(oid, s.symbol_id, uid, steps, reserve, b.size, b.userCookie, side, ot)
        self.orders.register_pending(o)           # before submission: no event can beat it
        sid = s.symbol_id
        meta = self.meta
        return self.gw.then(place(uid, sid, oid, side, steps, b.size, ot, reserve, b.userCookie),
                            lambda r: core_response(r, order_view(meta, o), 201),
                            lambda: self.orders.take_pending(sid, oid))

    def get_order(self, req, p, key):
        s = self.meta.symbol(p["symbol"])
        oid = parse_order_id(p["orderId"])
        o = self.orders.find(p["uid"], s.symbol_id, oid)
        if o is None:
            raise ApiError(GwCode.UNKNOWN_ORDER_404, f"no order {oid} of uid {p['uid']} on {s.code}")
        return envelope(200, order_view(self.meta, o))

    def _owned(self, uid, s, oid):
        o = self.orders.find(uid, s.symbol_id, oid)
        return order_view(self.meta, o) if o is not None else None

    def move_order(self, req, p, key):
        s = self.meta.symbol(p["symbol"])
        oid = parse_order_id(p["orderId"])
        b = self.gw.body(req, S.MoveOrderRequest)
        o = self.orders.get(s.symbol_id, oid)
        steps = self._price(s, b.price, b.unitPrice, o is not None and o.order_type in _BUDGET)
        uid = p["uid"]
        return self.gw.then(move(uid, s.symbol_id, oid, steps), lambda r: core_response(r, self._owned(uid, s, oid), 200))

    def cancel_order(self, req, p, key):
        s = self.meta.symbol(p["symbol"])
        oid = parse_order_id(p["orderId"])
        uid = p["uid"]
        return self.gw.then(cancel(uid, s.symbol_id, oid), lambda r: core_response(r, self._owned(uid, s, oid), 200))

    def reduce_order(self, req, p, key):
        s = self.meta.symbol(p["symbol"])
        oid = parse_order_id(p["orderId"])
        b = self.gw.body(req, S.ReduceOrderRequest)
        uid = p["uid"]
        return self.gw.then(reduce(uid, s.symbol_id, oid, b.reduceSize),
                            lambda r: core_response(r, self._owned(uid, s, oid), 200))

    def user_state(self, req, p, key):
        uid = p["uid"]
        rep = self.gw.ex.user_report(uid)
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
            active.append(order_view(self.meta, o))
        return envelope(200, {"uid": uid, "status": "SUSPENDED" if rep.status else "ACTIVE",
                              "activeOrders": active, "accounts": accounts_view(self.meta, rep)})

    def user_history(self, req, p, key):
        uid = p["uid"]
        if uid not in self.orders.known_users and self.gw.ex.user_report(uid) is None:
            raise ApiError(GwCode.UNKNOWN_USER_404, f"unknown user {uid}")
        return envelope(200, {"uid": uid, "orders": [order_view(self.meta, o) for o in self.orders.user_history(uid)]})
