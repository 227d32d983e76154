"""Read-only reports over an Engine: single user, total currency balance, L2 book."""
from __future__ import annotations

from .codes import SymbolType
from .engine import Engine
from .events import (CurrencyTotals, L2Book, OpenInterest, OrderRecord, PositionRecord, TotalBalanceReport,
                     UserReport)

__all__ = ["user_report", "total_balance", "order_book", "order_hold"]

_EXCHANGE = int(SymbolType.CURRENCY_EXCHANGE_PAIR)


def order_hold(spec, o) -> tuple[int, int]:
    """(currency, amount) a resting exchange-pair order reserves; futures orders reserve none."""
    rem = o.size - o.filled
    if o.action:
        return spec.quote_currency, rem * (o.reserve_price * spec.quote_scale_k + spec.taker_fee)
    return spec.base_currency, rem * spec.base_scale_k


def user_report(engine: Engine, uid: int) -> UserReport | None:
    """None when the user does not exist (exchange-core's USER_NOT_FOUND)."""
    u = engine.users.get(uid)
    if u is None:
        return None
    orders, held = [], {}
    for o, sym in u.orders.items():
        spec = engine.symbols[sym]
        orders.append(OrderRecord(sym, o.order_id, o.action, o.order_type, o.price, o.reserve_price,
                                  o.size, o.filled, o.user_cookie, o.timestamp))
        if spec.symbol_type == _EXCHANGE:
            cur, amount = order_hold(spec, o)
            held[cur] = held.get(cur, 0) + amount
    orders.sort(key=lambda r: (r.symbol, r.order_id))
    positions = [PositionRecord(s, p.currency, p.direction, p.open_volume, p.open_price_sum, p.profit,
                                p.pending_buy, p.pending_sell) for s, p in sorted(u.positions.items())]
    return UserReport(uid, u.status, dict(sorted(u.accounts.items())), dict(sorted(held.items())),
                      orders, positions)


def total_balance(engine: Engine) -> TotalBalanceReport:
    rows: dict[int, list[int]] = {}
    interest: dict[int, list[int]] = {}

    def row(cur):
        r = rows.get(cur)
        if r is None:
            r = rows[cur] = [0] * 6
        return r

    for u in engine.users.values():
        for cur, v in u.accounts.items():
            row(cur)[0] += v
        for s, p in u.positions.items():
            r = row(p.currency)
            r[5] += (p.profit - p.direction * p.open_price_sum) * engine.symbols[s].quote_scale_k
            if p.direction:
                oi = interest.setdefault(s, [0, 0])
                oi[0 if p.direction > 0 else 1] += p.open_volume
    for book in engine.books.values():
        spec = book.spec
        if spec.symbol_type != _EXCHANGE:
            continue
        for o in book.orders.values():
            cur, amount = order_hold(spec, o)
            row(cur)[1] += amount
    for i, bucket in ((2, engine.fees), (3, engine.adjustments), (4, engine.suspends)):
        for cur, v in bucket.items():
            row(cur)[i] += v
    return TotalBalanceReport([CurrencyTotals(c, *rows[c]) for c in sorted(rows)],
                              [OpenInterest(s, *interest[s]) for s in sorted(interest)])


def order_book(engine: Engine, symbol: int, depth: int = -1) -> L2Book | None:
    book = engine.books.get(symbol)
    if book is None:
        return None
    asks, bids = book.l2(depth)
    return L2Book(symbol, engine.seq, asks, bids)
