"""The deterministic engine: risk (holds, releases, fees, margin) and matching in one
single-threaded state machine. ``apply(seq, timestamp, command)`` is the only way
state changes, so the same sequence of commands always yields the same results,
events and state hash.

Risk and matching live in one class on purpose: exchange-core splits them across
pipeline stages to use several cores, but in CPython each call across a module
boundary costs more than the arithmetic it would save.
"""
from __future__ import annotations

from bisect import insort

from .accounts import Position, User
from .book import Level, Order, OrderBook
from .codes import CommandResultCode as R
from .codes import SymbolType
from .commands import (AddAsset, AddSymbol, AddUser, AdjustBalance, OrderBookRequest, OrderCommand,
                       ResumeUser, SuspendUser)
from .events import CommandResult, L2Book, ReduceEvent, RejectEvent, Trade, TradeEvent

__all__ = ["Engine"]

_SUCCESS = int(R.SUCCESS)
_MAX_BALANCE = 2**63 - 1          # balances stay 64-bit like exchange-core's longs, refused not wrapped
_GTC, _IOC, _IOC_BUDGET, _FOK, _FOK_BUDGET = 0, 1, 2, 3, 4
_EXCHANGE = int(SymbolType.CURRENCY_EXCHANGE_PAIR)
_FUTURES = int(SymbolType.FUTURES_CONTRACT)


class Engine:
    def __init__(self):
        self.seq = 0                                   # last applied sequence number
        self.assets: dict[int, AddAsset] = {}
        self.symbols: dict[int, AddSymbol] = {}
        self.books: dict[int, OrderBook] = {}
        self.users: dict[int, User] = {}
        self.fees: dict[int, int] = {}
        self.adjustments: dict[int, int] = {}
        self.suspends: dict[int, int] = {}
        self._handlers = {
            OrderCommand: True,
            OrderBookRequest: self._order_book, AddUser: self._add_user,
            AdjustBalance: self._adjust_balance, SuspendUser: self._suspend, ResumeUser: self._resume,
            AddAsset: self._add_asset, AddSymbol: self._add_symbol,
        }
        self._order_ops = {1: self._place, 2: self._cancel, 3: self._move, 4: self._reduce}

    # ------------------------------------------------------------------ entry point

    def apply(self, seq: int, timestamp: int, command) -> CommandResult:
        self.seq = seq
        events: list = []
        handler = self._handlers.get(type(command))
        if handler is None:
            code = -3004
        elif handler is True:
            op = self._order_ops.get(command.cmd)
            code = op(command, timestamp, events) if op else -3004
        else:
            code = handler(command, timestamp, events)
        return CommandResult(seq, timestamp, command, code, events)

    def execute(self, seq: int, timestamp: int, command, events: list) -> int:
        """``apply`` without the result object: appends events to the caller's list and returns
        the result code. exchange-core works this way (results are written into the ring slot);
        a ring consumer that forwards results in bulk can use it to skip one allocation per command."""
        self.seq = seq
        handler = self._handlers.get(type(command))
        if handler is None:
            return -3004
        if handler is True:
            op = self._order_ops.get(command.cmd)
            return op(command, timestamp, events) if op else -3004
        return handler(command, timestamp, events)

    # ------------------------------------------------------------------ orders

    def _place(self, c: OrderCommand, ts: int, events: list) -> int:
        user = self.users.get(c.uid)
        if user is None or user.status:
            return -1001
        book = self.books.get(c.symbol)
        if book is None:
            return -1201
        size, price, side, ot = c.size, c.price, c.side, c.order_type
        if size <= 0:
            return -7001
        if side != 0 and side != 1 or not 0 <= ot <= 4:
            return -3004
        budget = ot == _IOC_BUDGET or ot == _FOK_BUDGET
        if price < 0 or (budget and price == 0):
            return -7002
        spec = book.spec
        # the reserve price is stored and reported as given, for either side (exchange-core
        # keeps an ask's too); only a bid's takes part in its hold and refunds
        reserve = c.reserve_price
        hold_px = 0                       # per-lot price a bid's hold was taken at (refunds are against it)
        if spec.symbol_type == _EXCHANGE:
            accounts = user.accounts
            if side:
                if budget:
                    if reserve != price:
                        return -2002
                    hold = price * spec.quote_scale_k + size * spec.taker_fee
                    # fills then draw on the budget part of the hold (hold_px 0), settled once at the end
                else:
                    if reserve < price:
                        return -2002
                    hold = size * (reserve * spec.quote_scale_k + spec.taker_fee)
                    hold_px = reserve
                cur = spec.quote_currency
            else:
                if not budget and price * spec.quote_scale_k < spec.taker_fee:
                    return -2003
                hold = size * spec.base_scale_k
                cur = spec.base_currency
            bal = accounts.get(cur, 0)
            if bal < hold:
                return -2001
            accounts[cur] = bal - hold
        else:
            code = self._margin_hold(user, spec, side, size)
            if code:
                return code

        order_id = c.order_id
        if ot == _GTC or ot == _IOC or (ot == _FOK and self._fillable(book, side, price, size)):
            filled, trades = self._sweep(book, user, side, size, price, hold_px, 0, ts, reserve)
        elif ot == _FOK_BUDGET and self._budget_ok(book, side, price, size):
            filled, trades = self._sweep(book, user, side, size, None, hold_px, 0, ts, reserve)
        elif ot == _IOC_BUDGET:
            filled, trades = self._sweep(book, user, side, size, None, hold_px, price, ts, reserve)
        else:
            filled, trades = 0, None
        remaining = size - filled
        if remaining:
            if ot == _GTC and order_id not in book.orders:
                if trades:
                    events.append(TradeEvent(c.symbol, filled, order_id, c.uid, side, False, ts, trades))
                o = Order(order_id, c.uid, price, reserve, size, filled, side, ot, c.user_cookie, ts, user)
                book.orders[order_id] = o
                user.orders[o] = c.symbol
                book.append(o)
                return _SUCCESS
            # exchange-core's order: the reject comes first, the trades follow it
            events.append(RejectEvent(c.symbol, remaining, price, order_id, c.uid, ts, reserve))
            self._release(user, spec, c.symbol, side, remaining, hold_px)
        if trades:
            events.append(TradeEvent(c.symbol, filled, order_id, c.uid, side, not remaining, ts, trades))
        if budget and side and spec.symbol_type == _EXCHANGE:
            # the per-fill settlement charged nothing against the budget hold: return what was not spent
            spent = 0
            if trades:
                for t in trades:
                    spent += t.price * t.volume
            a = user.accounts
            q = spec.quote_currency
            a[q] = a.get(q, 0) + (price - spent) * spec.quote_scale_k
        elif spec.symbol_type != _EXCHANGE:
            self._drop_if_empty(user, c.symbol)
        return _SUCCESS

    def _margin_hold(self, user: User, spec, side: int, size: int) -> int:
        sym = spec.symbol_id
        pos = user.positions.get(sym)
        new_pos = pos is None
        if new_pos:
            pos = Position(spec.quote_currency)
        need = pos.required_margin_for_order(spec, side, size)
        if need >= 0:
            cur = spec.quote_currency
            free = user.accounts.get(cur, 0)
            for s, p in user.positions.items():
                if p.currency != cur:
                    continue
                ps = self.symbols[s]
                b = self.books[s]
                free += p.unrealized(b.best_bid(), b.best_ask()) * ps.quote_scale_k
                if p is not pos:
                    free -= p.required_margin(ps)
            if need > free:
                return -2001
        if new_pos:
            user.positions[sym] = pos
        if side:
            pos.pending_buy += size
        else:
            pos.pending_sell += size
        return 0

    def _fillable(self, book: OrderBook, side: int, limit: int, size: int) -> bool:
        if side:
            for k in reversed(book.ask_keys):
                if -k > limit:
                    return False
                size -= book.asks[-k].volume
                if size <= 0:
                    return True
        else:
            for k in reversed(book.bid_keys):
                if k < limit:
                    return False
                size -= book.bids[k].volume
                if size <= 0:
                    return True
        return False

    def _budget_ok(self, book: OrderBook, side: int, budget: int, size: int) -> bool:
        """FOK_BUDGET: bid fills only if the whole size costs <= budget, ask only if it raises >= budget."""
        cost = 0
        if side:
            levels, keys, sign = book.asks, book.ask_keys, -1
        else:
            levels, keys, sign = book.bids, book.bid_keys, 1
        for k in reversed(keys):
            p = sign * k
            v = levels[p].volume
            if v >= size:
                cost += p * size
                size = 0
                break
            cost += p * v
            size -= v
        if size:
            return False
        return cost <= budget if side else cost >= budget

    def _sweep(self, book: OrderBook, user: User, side: int, size: int, limit, reserve: int,
               budget: int, ts: int, taker_reserve: int):
        """Match ``size`` lots against the opposite side, best price first, FIFO within a level.

        ``limit`` None sweeps without a price cap; ``budget`` > 0 (IOC_BUDGET) caps a bid
        at what the budget can pay and stops an ask once its proceeds reach the budget.
        ``reserve`` is what a taker bid's hold was taken at (refunds), ``taker_reserve`` the
        reserve price the taker reports (each trade's bidder hold price for a taker bid).
        Returns (filled, trades)."""
        if side:
            levels, keys, sign = book.asks, book.ask_keys, -1
        else:
            levels, keys, sign = book.bids, book.bid_keys, 1
        spec = book.spec
        exchange = spec.symbol_type == _EXCHANGE
        trades = []
        remaining = size
        spent = 0
        orders = book.orders
        while remaining and keys:
            p = sign * keys[-1]
            if limit is not None and (p > limit if side else p < limit):
                break
            want = remaining
            if budget:
                left = budget - spent
                if side:
                    if p > 0:
                        want = min(want, left // p)
                else:
                    if left <= 0:
                        break
                    if p > 0:
                        want = min(want, -(-left // p))
                if want <= 0:
                    break
            lvl = levels[p]
            o = lvl.head
            while o is not None and want:
                avail = o.size - o.filled
                fill = avail if avail < want else want
                o.filled += fill
                done = fill == avail
                if exchange:
                    self._settle_exchange(spec, user, side, reserve, o, fill, p)
                else:
                    self._settle_futures(spec, user, side, o, fill, p)
                trades.append(Trade(o.order_id, o.uid, done, p, fill, taker_reserve if side else o.reserve_price))
                want -= fill
                remaining -= fill
                spent += p * fill
                lvl.volume -= fill
                nxt = o.next
                if done:
                    lvl.head = nxt
                    if nxt is None:
                        lvl.tail = None
                    else:
                        nxt.prev = None
                    o.next = None
                    lvl.count -= 1
                    del orders[o.order_id]
                    del o.user.orders[o]
                    if not exchange:
                        self._drop_if_empty(o.user, spec.symbol_id)
                o = nxt
            if lvl.count == 0:
                book.drop_top(1 - side)
        return size - remaining, trades

    def _settle_exchange(self, spec, taker: User, side: int, reserve: int, maker: Order, fill: int,
                         price: int) -> None:
        qk, tf, mf = spec.quote_scale_k, spec.taker_fee, spec.maker_fee
        base, quote = spec.base_currency, spec.quote_currency
        ta, ma = taker.accounts, maker.user.accounts
        if side:
            # taker bought: its hold covered reserve*qk + taker fee per lot; return the price gap
            ta[base] = ta.get(base, 0) + fill * spec.base_scale_k
            if reserve > price:
                ta[quote] = ta.get(quote, 0) + (reserve - price) * fill * qk
            ma[quote] = ma.get(quote, 0) + fill * (price * qk - mf)
        else:
            ta[quote] = ta.get(quote, 0) + fill * (price * qk - tf)
            ma[base] = ma.get(base, 0) + fill * spec.base_scale_k
            ma[quote] = ma.get(quote, 0) + fill * ((maker.reserve_price - price) * qk + tf - mf)
        fees = self.fees
        fees[quote] = fees.get(quote, 0) + fill * (tf + mf)

    def _settle_futures(self, spec, taker: User, side: int, maker: Order, fill: int, price: int) -> None:
        sym, quote, fees = spec.symbol_id, spec.quote_currency, self.fees
        opened = taker.positions[sym].trade(side, fill, price)
        fee = opened * spec.taker_fee
        if fee:
            taker.accounts[quote] = taker.accounts.get(quote, 0) - fee
            fees[quote] = fees.get(quote, 0) + fee
        mu = maker.user
        opened = mu.positions[sym].trade(maker.action, fill, price)
        fee = opened * spec.maker_fee
        if fee:
            mu.accounts[quote] = mu.accounts.get(quote, 0) - fee
            fees[quote] = fees.get(quote, 0) + fee
        # the taker's position is checked after the whole sweep (its remainder may still be pending)

    def _drop_if_empty(self, user: User, symbol: int) -> None:
        pos = user.positions.get(symbol)
        if pos is not None and pos.is_empty():
            del user.positions[symbol]
            if pos.profit:
                q = pos.currency
                user.accounts[q] = user.accounts.get(q, 0) + pos.profit * self.symbols[symbol].quote_scale_k

    def _release(self, user: User, spec, symbol: int, side: int, size: int, reserve: int) -> None:
        """Give back what ``size`` unfilled lots were holding."""
        if spec.symbol_type == _EXCHANGE:
            a = user.accounts
            if side:
                q = spec.quote_currency
                a[q] = a.get(q, 0) + size * (reserve * spec.quote_scale_k + spec.taker_fee)
            else:
                b = spec.base_currency
                a[b] = a.get(b, 0) + size * spec.base_scale_k
        else:
            user.positions[symbol].pending_release(side, size)
            self._drop_if_empty(user, symbol)

    def _cancel(self, c: OrderCommand, ts: int, events: list) -> int:
        book = self.books.get(c.symbol)
        if book is None:
            return -3005
        o = book.orders.get(c.order_id)
        if o is None or o.uid != c.uid:
            return -3002
        c.side = o.action                   # the result carries the order's side (exchange-core's cmd.action)
        book.unlink(o)
        del book.orders[o.order_id]
        user = o.user
        del user.orders[o]
        remaining = o.size - o.filled
        if book.spec.symbol_type == _EXCHANGE:
            self._release(user, book.spec, c.symbol, o.action, remaining, o.reserve_price)
        else:
            self._release_futures(user, c.symbol, o.action, remaining)
        events.append(ReduceEvent(c.symbol, remaining, True, o.price, o.order_id, o.uid, ts, o.reserve_price))
        return _SUCCESS

    def _release_futures(self, user, symbol, side, size):
        user.positions[symbol].pending_release(side, size)
        self._drop_if_empty(user, symbol)

    def _reduce(self, c: OrderCommand, ts: int, events: list) -> int:
        if c.size <= 0:
            return -3051
        book = self.books.get(c.symbol)
        if book is None:
            return -3005
        o = book.orders.get(c.order_id)
        if o is None or o.uid != c.uid:
            return -3002
        c.side = o.action
        remaining = o.size - o.filled
        by = c.size if c.size < remaining else remaining
        done = by == remaining
        user = o.user
        if done:
            book.unlink(o)
            del book.orders[o.order_id]
            del user.orders[o]
        else:
            lvl = (book.bids if o.action else book.asks)[o.price]
            lvl.volume -= by
        o.size -= by
        if book.spec.symbol_type == _EXCHANGE:
            self._release(user, book.spec, c.symbol, o.action, by, o.reserve_price)
        else:
            self._release_futures(user, c.symbol, o.action, by)
        events.append(ReduceEvent(c.symbol, by, done, o.price, o.order_id, o.uid, ts, o.reserve_price))
        return _SUCCESS

    def _move(self, c: OrderCommand, ts: int, events: list) -> int:
        # The hot path of the benchmark mix (82% of commands): unlink and re-append are
        # inlined from OrderBook.unlink/append to save two calls per move.
        book = self.books.get(c.symbol)
        if book is None:
            return -3005
        o = book.orders.get(c.order_id)
        if o is None or o.uid != c.uid:
            return -3002
        price = c.price
        side = c.side = o.action
        if side:
            if price < 0 or (book.exchange and price > o.reserve_price):
                return -3041
        elif price < book.min_ask:
            return -3041
        old = o.price
        if side:
            levels, keys, okey, nkey = book.bids, book.bid_keys, old, price
        else:
            levels, keys, okey, nkey = book.asks, book.ask_keys, -old, -price
        lvl = levels[old]
        rem = o.size - o.filled
        prev, nxt = o.prev, o.next
        if prev is None:
            lvl.head = nxt
        else:
            prev.next = nxt
        if nxt is None:
            lvl.tail = prev
        else:
            nxt.prev = prev
        lvl.count -= 1
        lvl.volume -= rem
        if not lvl.count:
            if keys[-1] == okey:
                book.drop_top(side)
            else:
                book.dormant[side] += 1
                if book.dormant[side] > 64 + 2 * len(keys) // 3:
                    book.compact(side)
        o.price = price
        if side:
            opp = book.ask_keys
            crosses = opp and -opp[-1] <= price
        else:
            opp = book.bid_keys
            crosses = opp and opp[-1] >= price
        if crosses:
            o.prev = o.next = None
            filled, trades = self._sweep(book, o.user, side, rem, price, o.reserve_price, 0, ts, o.reserve_price)
            o.filled += filled
            done = filled == rem
            events.append(TradeEvent(c.symbol, filled, o.order_id, o.uid, side, done, ts, trades))
            if done:
                del book.orders[o.order_id]
                del o.user.orders[o]
                if not book.exchange:
                    self._drop_if_empty(o.user, c.symbol)
                return _SUCCESS
            book.append(o)
            return _SUCCESS
        lvl = levels.get(price)
        if lvl is None:
            lvl = levels[price] = Level(price)
            if not keys or nkey > keys[-1]:
                keys.append(nkey)
            else:
                insort(keys, nkey)
        elif not lvl.count:
            book.dormant[side] -= 1
        tail = lvl.tail
        o.next = None
        o.prev = tail
        if tail is None:
            lvl.head = o
        else:
            tail.next = o
        lvl.tail = o
        lvl.volume += rem
        lvl.count += 1
        return _SUCCESS

    # ------------------------------------------------------------------ queries and admin

    def _order_book(self, c: OrderBookRequest, ts: int, events: list) -> int:
        book = self.books.get(c.symbol)
        if book is None:
            return -3005
        asks, bids = book.l2(c.depth)
        events.append(L2Book(c.symbol, self.seq, asks, bids))
        return _SUCCESS

    def _add_user(self, c: AddUser, ts: int, events: list) -> int:
        if c.uid in self.users:
            return -4001
        self.users[c.uid] = User(c.uid)
        return _SUCCESS

    def _adjust_balance(self, c: AdjustBalance, ts: int, events: list) -> int:
        user = self.users.get(c.uid)
        if user is None or user.status:
            return -1001
        if c.currency not in self.assets:
            return -7102
        if c.adjustment_type not in (0, 1):
            return -3004
        if c.transaction_id == user.last_txid:
            return -4101
        if c.transaction_id < user.last_txid:
            return -4102
        bal = user.accounts.get(c.currency, 0)
        if c.amount < 0 and bal + c.amount < 0:
            return -4103
        if c.amount > 0:
            # Settlement only moves money between accounts (and into fees), so no exchange-pair
            # balance can exceed the currency's supply: capping the supply at 2**63 - 1 keeps every
            # balance, hold and fee total inside a 64-bit long without a check per trade.
            cur = c.currency
            supply = -self.adjustments.get(cur, 0) - self.suspends.get(cur, 0)
            if bal + c.amount > _MAX_BALANCE or supply + c.amount > _MAX_BALANCE:
                return -7003
        user.accounts[c.currency] = bal + c.amount
        user.last_txid = c.transaction_id
        bucket = self.suspends if c.adjustment_type else self.adjustments
        bucket[c.currency] = bucket.get(c.currency, 0) - c.amount
        return _SUCCESS

    def _suspend(self, c: SuspendUser, ts: int, events: list) -> int:
        user = self.users.get(c.uid)
        if user is None:
            return -4201
        if user.status:
            return -4133
        if user.positions:
            return -4130
        # open orders hold funds, so they count as a non-empty account (exchange-core lets
        # such a user be suspended and its orders keep trading: PR #102)
        if user.orders or any(user.accounts.values()):
            return -4131
        user.status = 1
        return _SUCCESS

    def _resume(self, c: ResumeUser, ts: int, events: list) -> int:
        user = self.users.get(c.uid)
        if user is None:
            self.users[c.uid] = User(c.uid)    # as exchange-core: resume of an unknown uid creates it
            return _SUCCESS
        if not user.status:
            return -4132
        user.status = 0
        return _SUCCESS

    def _add_asset(self, c: AddAsset, ts: int, events: list) -> int:
        if c.asset_id in self.assets:
            return -7101
        if not 0 <= c.scale <= 18:
            return -7103
        self.assets[c.asset_id] = c
        return _SUCCESS

    def _add_symbol(self, c: AddSymbol, ts: int, events: list) -> int:
        if c.symbol_id in self.symbols:
            return -5001
        if c.symbol_type not in (_EXCHANGE, _FUTURES):
            return -1203
        if c.quote_currency not in self.assets or (
                c.symbol_type == _EXCHANGE and c.base_currency not in self.assets):
            return -7102
        if (c.base_scale_k <= 0 or c.quote_scale_k <= 0 or c.maker_fee < 0 or c.taker_fee < c.maker_fee
                or (c.symbol_type == _EXCHANGE and (c.margin_buy or c.margin_sell or c.base_currency == c.quote_currency))
                or (c.symbol_type == _FUTURES and (c.margin_buy <= 0 or c.margin_sell <= 0))):
            return -7103
        self.symbols[c.symbol_id] = c
        self.books[c.symbol_id] = OrderBook(c)
        return _SUCCESS
