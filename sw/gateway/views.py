"""JSON shapes of what the gateway answers and pushes (REST ``data`` and topic payloads), from
engine units to decimals. The OpenAPI response structs in ``schemas.py`` describe the same fields."""
from __future__ import annotations

import time
from datetime import datetime, timezone
from decimal import Decimal

from . import schemas as S
from .meta import Metadata
from .orders import GwOrder
from .units import SymbolMeta

__all__ = ["order_view", "deal_view", "trade_view", "book_view", "bars_view", "accounts_view", "server_time"]


def order_view(meta: Metadata, o: GwOrder, deals: bool = True) -> dict:
    s = meta.symbols_by_id.get(o.symbol)
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
        v["deals"] = [deal_view(s, d) for d in o.deals]
    return v


def deal_view(s: SymbolMeta | None, deal: tuple) -> dict:
    dp, ds, party, ts = deal
    return {"price": s.price(dp) if s is not None else Decimal(dp), "size": ds, "party": party,
            "timestamp": ts // 1_000_000}


def trade_view(s: SymbolMeta, trade: tuple) -> dict:
    """A public trade ``(price steps, volume, taker action, timestamp ns, seq)``."""
    price, volume, action, ts, seq = trade
    return {"price": s.price(price), "unitPrice": s.unit_price(price), "volume": volume,
            "takerAction": S.ACTIONS[action], "timestamp": ts // 1_000_000, "seq": seq}


def book_view(s: SymbolMeta, book) -> dict:
    return {"symbol": s.code,
            "askPrices": [s.price(x.price) for x in book.asks], "askVolumes": [x.volume for x in book.asks],
            "askOrders": [x.orders for x in book.asks],
            "bidPrices": [s.price(x.price) for x in book.bids], "bidVolumes": [x.volume for x in book.bids],
            "bidOrders": [x.orders for x in book.bids], "seq": book.seq}


def bar_view(s: SymbolMeta, bar) -> dict:
    t, o, h, lo, c, v = bar
    pr = s.price
    return {"open": pr(o), "high": pr(h), "low": pr(lo), "close": pr(c), "volume": v, "timestamp": t}


def bars_view(s: SymbolMeta, bars: list) -> list:
    return [bar_view(s, b) for b in bars]


def accounts_view(meta: Metadata, rep) -> list:
    out = []
    for cur in sorted(set(rep.accounts) | set(rep.held)):
        a = meta.assets_by_id.get(cur)
        conv = a.to_decimal if a is not None else Decimal
        out.append({"currency": a.code if a is not None else str(cur), "balance": conv(rep.accounts.get(cur, 0)),
                    "held": conv(rep.held.get(cur, 0))})
    return out


def server_time() -> dict:
    now = time.time()
    iso = datetime.fromtimestamp(now, timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return {"isoTime": iso, "epoch": int(now * 1000)}
