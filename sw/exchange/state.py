"""The engine's state as plain data: one canonical form used for the state hash and
for snapshots, so a snapshot that restores to the same hash is a faithful one.

Canonical means independent of history that does not matter (dict insertion
order, which user touched a currency first) and inclusive of everything that
does (the FIFO order inside each price level, transaction-id counters).
"""
from __future__ import annotations

import hashlib

import msgspec

from .accounts import Position, User
from .book import Order, OrderBook
from .commands import AddAsset, AddSymbol
from .engine import Engine

__all__ = ["export_state", "import_state", "state_hash", "encode_state", "decode_state"]

# JSON rather than msgpack: totals such as the sum of all deposits may outgrow 64 bits, and
# msgspec's JSON keeps Python's unbounded ints exactly
_enc = msgspec.json.Encoder()
_dec = msgspec.json.Decoder()


def _order_row(o: Order) -> list:
    return [o.order_id, o.uid, o.price, o.reserve_price, o.size, o.filled, o.action, o.order_type,
            o.user_cookie, o.timestamp]


def export_state(engine: Engine) -> dict:
    users = []
    for uid in sorted(engine.users):
        u = engine.users[uid]
        positions = [[s, p.currency, p.direction, p.open_volume, p.open_price_sum, p.profit,
                      p.pending_buy, p.pending_sell] for s, p in sorted(u.positions.items())]
        users.append([uid, u.status, u.last_txid, sorted(u.accounts.items()), positions])
    books = []
    for sym in sorted(engine.books):
        b = engine.books[sym]
        books.append([sym, [_order_row(o) for o in b.iter_orders(0)],
                      [_order_row(o) for o in b.iter_orders(1)]])
    return {
        "seq": engine.seq,
        "assets": [msgspec.to_builtins(engine.assets[k]) for k in sorted(engine.assets)],
        "symbols": [msgspec.to_builtins(engine.symbols[k]) for k in sorted(engine.symbols)],
        "users": users,
        "books": books,
        "fees": sorted(engine.fees.items()),
        "adjustments": sorted(engine.adjustments.items()),
        "suspends": sorted(engine.suspends.items()),
    }


def import_state(data: dict) -> Engine:
    e = Engine()
    e.seq = data["seq"]
    for a in data["assets"]:
        asset = msgspec.convert(a, AddAsset)
        e.assets[asset.asset_id] = asset
    for s in data["symbols"]:
        spec = msgspec.convert(s, AddSymbol)
        e.symbols[spec.symbol_id] = spec
        e.books[spec.symbol_id] = OrderBook(spec)
    for uid, status, txid, accounts, positions in data["users"]:
        u = User(uid, status)
        u.last_txid = txid
        u.accounts = {c: v for c, v in accounts}
        for s, cur, d, vol, ops, profit, pb, ps in positions:
            p = Position(cur)
            p.direction, p.open_volume, p.open_price_sum, p.profit = d, vol, ops, profit
            p.pending_buy, p.pending_sell = pb, ps
            u.positions[s] = p
        e.users[uid] = u
    for sym, asks, bids in data["books"]:
        book = e.books[sym]
        for row in asks + bids:
            oid, uid, price, reserve, size, filled, action, otype, cookie, ts = row
            user = e.users[uid]
            o = Order(oid, uid, price, reserve, size, filled, action, otype, cookie, ts, user)
            book.orders[oid] = o
            user.orders[o] = sym
            book.append(o)
    e.fees = {c: v for c, v in data["fees"]}
    e.adjustments = {c: v for c, v in data["adjustments"]}
    e.suspends = {c: v for c, v in data["suspends"]}
    return e


def encode_state(engine: Engine) -> bytes:
    return _enc.encode(export_state(engine))


def decode_state(blob: bytes) -> Engine:
    return import_state(_dec.decode(blob))


def state_hash(engine: Engine) -> str:
    """Deterministic digest of the whole state (blake2b-128 of the canonical encoding)."""
    return hashlib.blake2b(encode_state(engine), digest_size=16).hexdigest()
