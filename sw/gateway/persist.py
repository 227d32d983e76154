"""What clients saw survives a restart: the gateway's history (order registry with deals, finished
orders, bars, recent trades) is saved with every exchange snapshot and rebuilt from the journal.

It is all a function of the engine's result stream (``fanout.py``), so:

* when the exchange takes a snapshot at ``seq`` the gateway writes ``gateway-<seq>.snap`` (its
  history after exactly the results up to ``seq``; encoded on the loop, written and fsynced on
  another thread);
* on restart, recovery starts from the newest sequence that has both an exchange and a gateway
  snapshot, loads the history from the latter, and replays the journal after it through the
  engine *and* the history (``Exchange.open(..., snapshot_seq, observer)``). With no exchange
  snapshot at all the whole journal is replayed. Exchange snapshots are pruned two at a time, so
  the older of the two is there if a crash came between an exchange snapshot and its gateway
  snapshot.

Only a journal directory written before gateway snapshots existed, and already snapshotted,
loses history (active orders are then rebuilt from the engine without their deals); recovery
says so in its note.
"""
from __future__ import annotations

import logging
from collections import deque
from pathlib import Path

import msgspec

from ringgate.sw.exchange import Exchange
from ringgate.sw.exchange.journal import list_snapshots, read_snapshot, snapshot_name, write_snapshot

from .bars import TIME_FRAMES
from .fanout import TRADES_KEPT, Fanout
from .orders import GwOrder

__all__ = ["PREFIX", "export_history", "import_history", "save_history", "recover"]

_log = logging.getLogger(__name__)
PREFIX = "gateway"
_FORMAT = 1


def _row(o: GwOrder) -> list:
    return [o.order_id, o.symbol, o.uid, o.price, o.reserve_price, o.size, o.filled, o.state, o.user_cookie,
            o.action, o.order_type, [list(d) for d in o.deals], o.timestamp, o.reject_code, o.source]


def _order(row: list) -> GwOrder:
    (oid, sym, uid, price, reserve, size, filled, state, cookie, action, otype, deals, ts, reject,
     source) = row
    o = GwOrder(oid, sym, uid, price, reserve, size, cookie, action, otype, source)
    o.filled, o.state, o.timestamp, o.reject_code = filled, state, ts, reject
    o.deals = [tuple(d) for d in deals]
    return o


def export_history(fo: Fanout, seq: int) -> bytes:
    reg = fo.orders
    data = {
        "format": _FORMAT, "seq": seq,
        "active": [_row(o) for o in reg.active.values()],
        "history": [[uid, [_row(o) for o in h]] for uid, h in reg.history.items()],
        "known": sorted(reg.known_users),
        "bars": [[sym, {tf: [list(b) for b in series.bars] for tf, series in by_tf.items()}]
                 for sym, by_tf in fo.bars.series.items()],
        "trades": [[sym, [list(t) for t in d]] for sym, d in fo.trades.items()],
    }
    return msgspec.msgpack.encode(data)


def import_history(blob: bytes, history_per_user: int = 1000) -> tuple[int, Fanout]:
    data = msgspec.msgpack.decode(blob)
    if data.get("format") != _FORMAT:
        raise ValueError(f"gateway snapshot format {data.get('format')!r}, expected {_FORMAT}")
    fo = Fanout(history_per_user=history_per_user)
    reg = fo.orders
    for row in data["active"]:
        reg.rest(_order(row))
    for uid, rows in data["history"]:
        for row in rows:
            reg.finish(_order(row), row[7])
    reg.known_users.update(data["known"])
    for sym, by_tf in data["bars"]:
        series = fo.bars._for(sym)
        for tf, bars in by_tf.items():
            if tf in TIME_FRAMES:
                series[tf].bars.extend(list(b) for b in bars)
    for sym, trades in data["trades"]:
        fo.trades[sym] = deque((tuple(t) for t in trades), maxlen=TRADES_KEPT)
    return data["seq"], fo


def save_history(directory: Path, seq: int, blob: bytes, keep: list[int]) -> Path:
    """Write the gateway snapshot at ``seq``; delete those older than every kept exchange snapshot."""
    path = write_snapshot(directory, seq, blob, PREFIX)
    oldest = min(keep) if keep else seq
    for s, p in list_snapshots(directory, PREFIX):
        if s < min(oldest, seq):
            p.unlink(missing_ok=True)
    return path


def recover(directory, history_per_user: int = 1000, **exchange_kw) -> tuple[Exchange, Fanout | None, str]:
    """Open the exchange in ``directory`` and rebuild the gateway's history with it.

    Returns (exchange, history or None, a note for the operator). ``exchange_kw`` go to
    :meth:`Exchange.open`."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    engine_snaps = [s for s, _ in list_snapshots(directory)]
    ours = dict(list_snapshots(directory, PREFIX))
    base = None
    fo = None
    for s in sorted(set(engine_snaps) & set(ours), reverse=True):
        got = read_snapshot(ours[s])
        engine_ok = read_snapshot(directory / snapshot_name(s))
        if got is None or got[0] != s or engine_ok is None:
            continue
        try:
            seq, fo = import_history(got[1], history_per_user)
        except (ValueError, KeyError, msgspec.DecodeError) as exc:
            _log.warning("gateway snapshot %s unreadable: %s", ours[s], exc)
            continue
        base = seq
        break
    if base is None and not engine_snaps:
        base, fo = 0, Fanout(history_per_user=history_per_user)        # the whole journal is there
    if base is None:
        ex = Exchange.open(directory, **exchange_kw)
        return ex, None, (f"history: not recoverable before seq {ex.seq} (no gateway snapshot matches an "
                          "exchange snapshot); active orders rebuilt without deals")
    ex = Exchange.open(directory, snapshot_seq=base, observer=fo.on_results, **exchange_kw)
    return ex, fo, f"history: rebuilt from seq {base} + {ex.seq - base} journaled commands"
