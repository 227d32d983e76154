"""ringgate exchange core: exchange-core semantics in Python.

Public entry points (stable; see docs/exchange.md, "API for the gateway"):

* :class:`Exchange` — the sequencer: ``submit``/``submit_many`` number, journal and
  apply commands and return :class:`CommandResult` objects; reports
  (``user_report``, ``order_book``, ``total_balance``, ``state_hash``); ``subscribe``
  for the event stream; ``Exchange.open(dir)`` recovers and journals,
  ``Exchange.in_memory()`` does not.
* :class:`ExchangeService` — a worker thread that batches commands from many
  producers (group commit) and returns futures.
* Commands: :class:`OrderCommand` (field for field a ring entry) built by
  :func:`place`, :func:`cancel`, :func:`move`, :func:`reduce` or :func:`from_ring`;
  admin commands :class:`AddAsset`, :class:`AddSymbol`, :class:`AddUser`,
  :class:`AdjustBalance`, :class:`SuspendUser`, :class:`ResumeUser`,
  :class:`OrderBookRequest`.
* Codes: exchange-core's enums with the same names and numbers.
"""
from .codes import (BalanceAdjustmentType, CommandResultCode, FsyncPolicy, OrderAction,
                    OrderCommandType, OrderType, PositionDirection, SymbolType, UserStatus)
from .commands import (AddAsset, AddSymbol, AddUser, AdjustBalance, Command, OrderBookRequest,
                       OrderCommand, ResumeUser, SuspendUser, cancel, from_ring, move, place, reduce)
from .engine import Engine
from .events import (CommandResult, CurrencyTotals, L2Book, L2Level, OpenInterest, OrderRecord, PositionRecord,
                     ReduceEvent, RejectEvent, TotalBalanceReport, Trade, TradeEvent, UserReport)
from .journal import JournalCorrupt
from .sequencer import Exchange, ExchangeService, recover_engine
from .state import state_hash

__all__ = [
    "Exchange", "ExchangeService", "Engine", "recover_engine", "state_hash", "JournalCorrupt",
    "OrderCommand", "place", "cancel", "move", "reduce", "from_ring", "Command",
    "AddAsset", "AddSymbol", "AddUser", "AdjustBalance", "SuspendUser", "ResumeUser", "OrderBookRequest",
    "CommandResult", "TradeEvent", "Trade", "RejectEvent", "ReduceEvent", "L2Book", "L2Level",
    "UserReport", "OrderRecord", "PositionRecord", "TotalBalanceReport", "CurrencyTotals", "OpenInterest",
    "CommandResultCode", "OrderCommandType", "OrderAction", "OrderType", "SymbolType",
    "BalanceAdjustmentType", "UserStatus", "PositionDirection", "FsyncPolicy",
]
