"""Results in, everything a client can see out: the engine's results, in sequence order, drive the
order registry (active orders, deals, history), bars, the recent-trades list and the WebSocket
topics; and the WebSocket side's access rules (who may subscribe to what, what a new subscriber's
snapshot holds, which sessions end when keys are revoked).

Everything here is a function of the result stream, so replaying the journal through
:meth:`Fanout.on_results` rebuilds it; ``persist.py`` saves it with each exchange snapshot and
does that replay after a restart. Without a hub (during recovery) nothing is published.
"""
from __future__ import annotations

from collections import deque

from ringgate.sw.exchange import AdjustBalance, OrderCommand, ReduceEvent, RejectEvent, TradeEvent

from .bars import TIME_FRAMES, Bars
from .errors import ApiError, GwCode
from .orders import ACTIVE, CANCELLED, COMPLETED, FINAL, PARTIALLY_FILLED, REJECTED, GwOrder, OrderRegistry
from .routes import parse_uid
from .views import accounts_view, bars_view, deal_view, order_view, trade_view

__all__ = ["Fanout", "TRADES_KEPT", "DEPTH_LEVELS"]

TRADES_KEPT = 50
DEPTH_LEVELS = 50


class Fanout:
    """Result processing and WebSocket topic access.

    Members
    -------
    orders : OrderRegistry
        The gateway's registry (shared with the trading handlers).
    bars : Bars
        OHLCV bars per symbol and time frame.
    trades : dict[int, deque]
        The last ``TRADES_KEPT`` public trades per symbol, ``(price, volume, taker action,
        timestamp ns, seq)`` (the ``trades.<symbol>`` snapshot).
    ex, meta, hub, keys
        Set by the gateway (``attach``); None while the state is being recovered.
    """

    def __init__(self, orders: OrderRegistry | None = None, history_per_user: int = 1000):
        self.orders = orders if orders is not None else OrderRegistry(history_per_user)
        self.bars = Bars()
        self.trades: dict[int, deque] = {}
        self.depth_state: dict[int, tuple[dict, dict]] = {}
        self.balance_state: dict[int, dict] = {}
        self.ex = self.meta = self.hub = self.keys = None

    def attach(self, ex, meta, keys) -> None:
        self.ex, self.meta, self.keys = ex, meta, keys

    def seed(self) -> None:
        """Register the engine's resting orders the registry does not know (after a recovery
        that did not rebuild the registry from the journal)."""
        ex = self.ex
        with ex.lock:
            uids = list(ex.engine.users)
        for uid in uids:
            rep = ex.user_report(uid)
            self.orders.known_users.add(uid)
            for r in rep.orders:
                if self.orders.get(r.symbol, r.order_id) is not None:
                    continue
                o = GwOrder(r.order_id, r.symbol, uid, r.price, r.reserve_price, r.size, r.user_cookie,
                            r.action, r.order_type, source="recovered")
                o.filled = r.filled
                o.timestamp = r.timestamp
                o.state = PARTIALLY_FILLED if r.filled else ACTIVE
                self.orders.rest(o)

    # ------------------------------------------------------------------ results

    def on_results(self, results: list) -> None:
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
                    if o is None:                 # from the FPGA ring (or another submitter, or a replay)
                        o = GwOrder(c.order_id, sym, c.uid, c.price, c.reserve_price, c.size, c.user_cookie,
                                    c.side, c.order_type, source="ring")
                    o.timestamp = r.timestamp
                    touched_uids.add(c.uid)
                    orders.known_users.add(c.uid)
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
            s = self.meta.symbols_by_id.get(sym)
            if s is not None:
                hub.publish_lazy(f"bars.{s.code}.{tf}", lambda s=s, bar=bar: bars_view(s, [bar])[0])
        for sym in touched_syms:
            s = self.meta.symbols_by_id.get(sym)
            if s is not None and hub.has_subscribers(f"depth.{s.code}"):
                self._push_depth(s)
        for uid in touched_uids:
            if hub.has_subscribers(f"balances.{uid}"):
                self._push_balances(uid)

    def _events(self, r, taker: GwOrder | None, touched_uids: set, bar_updates: dict) -> None:
        orders = self.orders
        hub = self.hub
        rejected = False
        for ev in r.events:         # exchange-core's order: a reject (if any) first, then the trades
            t = type(ev)
            if t is RejectEvent:
                rejected = True
            elif t is TradeEvent:
                sym = ev.symbol
                s = self.meta.symbols_by_id.get(sym) if hub is not None else None
                recent = self.trades.get(sym)
                if recent is None:
                    recent = self.trades[sym] = deque(maxlen=TRADES_KEPT)
                ts = ev.timestamp
                action = ev.taker_action
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
                    trade = (tr.price, tr.volume, action, ts, r.seq)
                    recent.append(trade)
                    if s is not None:
                        hub.publish_lazy(f"trades.{s.code}", lambda s=s, trade=trade: trade_view(s, trade))
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

    def _push_order(self, o: GwOrder, event: str) -> None:
        hub = self.hub
        if hub is None:
            return
        meta = self.meta

        def make():
            v = order_view(meta, o, deals=False)
            v["event"] = event
            if o.deals and event == "trade":
                v["lastDeal"] = deal_view(meta.symbols_by_id.get(o.symbol), o.deals[-1])
            return v
        hub.publish_lazy(f"orders.{o.uid}", make)

    def _depth_levels(self, s):
        book = self.ex.order_book(s.symbol_id, DEPTH_LEVELS)
        return ({x.price: (x.volume, x.orders) for x in book.asks},
                {x.price: (x.volume, x.orders) for x in book.bids}, book.seq)

    @staticmethod
    def _levels_view(s, levels: dict, reverse: bool) -> list:
        return [[s.price(p), v, n] for p, (v, n) in sorted(levels.items(), reverse=reverse)]

    def _push_depth(self, s) -> None:
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
        return {"accounts": accounts_view(self.meta, rep) if rep is not None else []}

    def _push_balances(self, uid: int) -> None:
        b = self._balances(uid)
        if b != self.balance_state.get(uid):
            self.balance_state[uid] = b
            self.hub.publish(f"balances.{uid}", b)

    # ------------------------------------------------------------------ WebSocket access

    def authenticate(self, conn, op):
        return self.keys.verify(op.apiKey, op.timestamp, op.signature, "GET", "/ws")

    def parse_topic(self, name: str):
        parts = name.split(".")
        kind = parts[0]
        if kind in ("trades", "depth") and len(parts) == 2:
            return kind, self.meta.symbol(parts[1]), None
        if kind == "bars" and len(parts) == 3:
            if parts[2] not in TIME_FRAMES:
                raise ApiError(GwCode.INVALID_REQUEST, f"unknown time frame {parts[2]!r} in topic {name!r}")
            return kind, self.meta.symbol(parts[1]), parts[2]
        if kind in ("orders", "balances") and len(parts) == 2:
            try:
                return kind, None, parse_uid(parts[1])
            except ApiError:
                raise ApiError(GwCode.INVALID_REQUEST, f"topic {name!r}: uid must be a positive integer") from None
        raise ApiError(GwCode.INVALID_REQUEST, f"unknown topic {name!r}: expected trades.<symbol>, "
                       "depth.<symbol>, bars.<symbol>.<M1|M5|M15|H1|H4|D1|W1>, orders.<uid> or balances.<uid>")

    def authorize(self, conn, name: str) -> None:
        kind, s, extra = self.parse_topic(name)
        if kind in ("orders", "balances"):
            if conn.key is None:
                raise ApiError(GwCode.UNAUTHORIZED, f"topic {name!r} is private: send an auth message first")
            if conn.key.uid != extra and not conn.key.admin:
                raise ApiError(GwCode.FORBIDDEN, f"API key of uid {conn.key.uid} may not subscribe to {name!r}")

    def snapshot(self, conn, name: str):
        kind, s, extra = self.parse_topic(name)
        if kind == "trades":
            return [trade_view(s, t) for t in self.trades.get(s.symbol_id, ())]
        if kind == "bars":
            return bars_view(s, self.bars.get(s.symbol_id, extra))
        if kind == "depth":
            if not self.hub.has_subscribers(name) or s.symbol_id not in self.depth_state:
                asks, bids, _ = self._depth_levels(s)
                self.depth_state[s.symbol_id] = (asks, bids)
            asks, bids = self.depth_state[s.symbol_id]
            return {"asks": self._levels_view(s, asks, False), "bids": self._levels_view(s, bids, True)}
        if kind == "orders":
            return [order_view(self.meta, o, deals=False) for o in self.orders.user_active(extra)]
        b = self._balances(extra)
        self.balance_state[extra] = b
        return b

    def end_sessions(self, keys: list, reason: str) -> int:
        """Close every WebSocket session authenticated with one of ``keys`` (code 1008)."""
        hub = self.hub
        if hub is None or not keys:
            return 0
        gone = set(id(k) for k in keys)
        ended = [c for c in hub.conns if c.key is not None and id(c.key) in gone]
        for c in ended:
            c.close(1008, reason)
        return len(ended)
