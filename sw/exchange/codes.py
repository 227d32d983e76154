"""Numeric codes shared with exchange-core: same names, same numbers.

Codes in the -7000 range are ringgate extensions (exchange-core has no code for
these cases and either ignores them or reports a misleading one); the -10000 and
below range stays reserved for gateways, as in exchange-core.
"""
from __future__ import annotations

import enum

__all__ = ["CommandResultCode", "OrderCommandType", "OrderAction", "OrderType", "SymbolType",
           "BalanceAdjustmentType", "UserStatus", "PositionDirection", "FsyncPolicy"]


class CommandResultCode(enum.IntEnum):
    NEW = 0
    VALID_FOR_MATCHING_ENGINE = 1
    SUCCESS = 100
    ACCEPTED = 110
    AUTH_INVALID_USER = -1001
    AUTH_TOKEN_EXPIRED = -1002
    INVALID_SYMBOL = -1201
    INVALID_PRICE_STEP = -1202
    UNSUPPORTED_SYMBOL_TYPE = -1203
    RISK_NSF = -2001
    RISK_INVALID_RESERVE_BID_PRICE = -2002
    RISK_ASK_PRICE_LOWER_THAN_FEE = -2003
    RISK_MARGIN_TRADING_DISABLED = -2004
    MATCHING_UNKNOWN_ORDER_ID = -3002
    MATCHING_UNSUPPORTED_COMMAND = -3004
    MATCHING_INVALID_ORDER_BOOK_ID = -3005
    MATCHING_MOVE_FAILED_PRICE_OVER_RISK_LIMIT = -3041
    MATCHING_REDUCE_FAILED_WRONG_SIZE = -3051
    USER_MGMT_USER_ALREADY_EXISTS = -4001
    USER_MGMT_ACCOUNT_BALANCE_ADJUSTMENT_ALREADY_APPLIED_SAME = -4101
    USER_MGMT_ACCOUNT_BALANCE_ADJUSTMENT_ALREADY_APPLIED_MANY = -4102
    USER_MGMT_ACCOUNT_BALANCE_ADJUSTMENT_NSF = -4103
    USER_MGMT_NON_ZERO_ACCOUNT_BALANCE = -4104
    USER_MGMT_USER_NOT_SUSPENDABLE_HAS_POSITIONS = -4130
    USER_MGMT_USER_NOT_SUSPENDABLE_NON_EMPTY_ACCOUNTS = -4131
    USER_MGMT_USER_NOT_SUSPENDED = -4132
    USER_MGMT_USER_ALREADY_SUSPENDED = -4133
    USER_MGMT_USER_NOT_FOUND = -4201
    SYMBOL_MGMT_SYMBOL_ALREADY_EXISTS = -5001
    # ringgate extensions
    INVALID_ORDER_SIZE = -7001        # place with size <= 0
    INVALID_ORDER_PRICE = -7002       # negative price, or a budget <= 0
    INVALID_AMOUNT = -7003            # a deposit that would take a balance beyond 2**63 - 1
    ASSET_ALREADY_EXISTS = -7101
    UNKNOWN_ASSET = -7102             # symbol names a currency that was never added
    INVALID_SYMBOL_SPECIFICATION = -7103
    BINARY_COMMAND_FAILED = -8001
    REPORT_QUERY_UNKNOWN_TYPE = -8003
    STATE_PERSIST_RISK_ENGINE_FAILED = -8010
    STATE_PERSIST_MATCHING_ENGINE_FAILED = -8020
    DROP = -9999


class OrderCommandType(enum.IntEnum):
    PLACE_ORDER = 1
    CANCEL_ORDER = 2
    MOVE_ORDER = 3
    REDUCE_ORDER = 4
    ORDER_BOOK_REQUEST = 6
    ADD_USER = 10
    BALANCE_ADJUSTMENT = 11
    SUSPEND_USER = 12
    RESUME_USER = 13
    BINARY_DATA_QUERY = 90
    BINARY_DATA_COMMAND = 91
    PERSIST_STATE_MATCHING = 110
    PERSIST_STATE_RISK = 111
    GROUPING_CONTROL = 118
    NOP = 120
    RESET = 124
    SHUTDOWN_SIGNAL = 127
    RESERVED_COMPRESSED = -1
    # binary-command type codes of exchange-core, used here as admin command tags
    ADD_ACCOUNTS = 1002
    ADD_SYMBOLS = 1003
    # ringgate extension: asset registry (exchange-core only knows currency ids)
    ADD_ASSET = 1004


# The ring entry contract owns these codes (one source of truth for gateware and host).
from ringgate.contracts.entry import OrderType  # noqa: E402
from ringgate.contracts.entry import Side as OrderAction  # noqa: E402


class SymbolType(enum.IntEnum):
    CURRENCY_EXCHANGE_PAIR = 0
    FUTURES_CONTRACT = 1
    OPTION = 2


class BalanceAdjustmentType(enum.IntEnum):
    ADJUSTMENT = 0
    SUSPEND = 1


class UserStatus(enum.IntEnum):
    ACTIVE = 0
    SUSPENDED = 1


class PositionDirection(enum.IntEnum):
    LONG = 1
    SHORT = -1
    EMPTY = 0


class FsyncPolicy(enum.Enum):
    """When the journal calls fsync.

    BATCH: before every acknowledgement (power-loss safe ack).
    INTERVAL: on the first write after ``fsync_interval`` seconds since the last fsync; an
    ack means the bytes are in the OS page cache (safe against a process crash, not
    against power loss).
    NEVER: only at snapshot rotation and close; ack as for INTERVAL.
    """
    BATCH = "batch"
    INTERVAL = "interval"
    NEVER = "never"
