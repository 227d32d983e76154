"""Typed request bodies (decoded and validated by msgspec) and response shapes (for the OpenAPI
description). Field names are exchange-gateway-rest's (camelCase) so its clients keep working.

:func:`decode_request` is the one way a body becomes a struct, and it is as strict as the
OpenAPI description: UTF-8 only, no duplicate keys (msgspec alone keeps the last), decimals given
as strings must match ``DECIMAL_PATTERN``, the pattern the OpenAPI description publishes (msgspec
alone also takes ``" 50.00 "``, ``"1_000"``, ``"NaN"`` and ``"Infinity"``).
"""
from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Annotated, Literal

import msgspec
from msgspec import Meta

__all__ = ["decode_request", "BodyError", "DECIMAL_PATTERN", "AddAssetRequest", "AddSymbolRequest", "AddUserRequest", "BalanceAdjustmentRequest",
           "PlaceOrderRequest", "MoveOrderRequest", "ReduceOrderRequest", "SYMBOL_TYPES", "ORDER_TYPES",
           "ACTIONS", "ORDER_STATES", "REQUEST_TYPES", "RESPONSE_TYPES"]

# a decimal given as a JSON string: a JSON number's syntax (with an optional leading +), so what
# Python's str(Decimal) writes ("1E-8") passes, and whitespace, NaN, Infinity, "1_000", "0x10" do not
DECIMAL_PATTERN = r"^[+-]?[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?$"

Int64Pos = Annotated[int, Meta(ge=1, le=2**63 - 1)]
Int32 = Annotated[int, Meta(ge=-2**31, le=2**31 - 1)]
Int32Id = Annotated[int, Meta(ge=0, le=2**31 - 1)]
Code = Annotated[str, Meta(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,31}$",
                           description="1-32 characters: letters, digits, `_`, `.`, `-`")]
Dec = Annotated[Decimal, Meta(description="decimal, as a JSON number or a string")]

SymbolTypeName = Literal["CURRENCY_EXCHANGE_PAIR", "FUTURES_CONTRACT"]
ActionName = Literal["ASK", "BID"]
OrderTypeName = Literal["GTC", "IOC", "IOC_BUDGET", "FOK", "FOK_BUDGET"]
OrderStateName = Literal["NEW", "ACTIVE", "PARTIALLY_FILLED", "COMPLETED", "CANCELLED", "REJECTED"]

SYMBOL_TYPES = {0: "CURRENCY_EXCHANGE_PAIR", 1: "FUTURES_CONTRACT"}
SYMBOL_TYPE_CODES = {v: k for k, v in SYMBOL_TYPES.items()}
ACTIONS = ("ASK", "BID")
ACTION_CODES = {"ASK": 0, "BID": 1}
ORDER_TYPES = ("GTC", "IOC", "IOC_BUDGET", "FOK", "FOK_BUDGET")
ORDER_TYPE_CODES = {n: i for i, n in enumerate(ORDER_TYPES)}
ORDER_STATES = ("NEW", "ACTIVE", "PARTIALLY_FILLED", "COMPLETED", "CANCELLED", "REJECTED")


class _Req(msgspec.Struct, forbid_unknown_fields=True):
    pass


# ----------------------------------------------------------------------------- admin

class AddAssetRequest(_Req):
    assetCode: Code
    assetId: Int32Id
    scale: Annotated[int, Meta(ge=0, le=18)]


class AddSymbolRequest(_Req):
    symbolId: Int32Id
    symbolCode: Code
    symbolType: SymbolTypeName
    baseAsset: Code
    quoteCurrency: Code
    lotSize: Dec
    stepSize: Dec
    takerFee: Dec = Decimal(0)
    makerFee: Dec = Decimal(0)
    marginBuy: Dec = Decimal(0)
    marginSell: Dec = Decimal(0)
    priceHighLimit: Dec = Decimal(0)
    priceLowLimit: Dec = Decimal(0)


class AddUserRequest(_Req):
    uid: Int64Pos


class BalanceAdjustmentRequest(_Req):
    transactionId: Int64Pos
    amount: Annotated[Decimal, Meta(description="decimal in asset units; negative = withdrawal")]
    currency: Code


# ----------------------------------------------------------------------------- trading

class PlaceOrderRequest(_Req):
    """Exactly one of ``price`` (quote currency per lot, as exchange-gateway-rest) and
    ``unitPrice`` (quote currency per whole base unit). For IOC_BUDGET / FOK_BUDGET ``price``
    is the total budget of the order."""
    size: Int64Pos
    action: ActionName
    orderType: OrderTypeName = "GTC"
    price: Dec | None = None
    unitPrice: Dec | None = None
    reservePrice: Annotated[Decimal | None, Meta(
        description="bid only: highest per-lot price a later move may reach (default: price)")] = None
    userCookie: Int32 = 0


class MoveOrderRequest(_Req):
    price: Dec | None = None
    unitPrice: Dec | None = None


class ReduceOrderRequest(_Req):
    reduceSize: Int64Pos


REQUEST_TYPES = (AddAssetRequest, AddSymbolRequest, AddUserRequest, BalanceAdjustmentRequest,
                 PlaceOrderRequest, MoveOrderRequest, ReduceOrderRequest)


class BodyError(ValueError):
    """A request body that is not what the OpenAPI description says; the message says why."""


_decoders = {t: msgspec.json.Decoder(t) for t in REQUEST_TYPES}
# fields typed Decimal, Annotated[Decimal, ...] or Optional of those
_decimal_fields = {t: frozenset(f.name for f in msgspec.structs.fields(t) if "Decimal" in repr(f.type))
                   for t in REQUEST_TYPES}
_members = msgspec.json.Decoder(dict).decode
_DECIMAL = re.compile(DECIMAL_PATTERN)


def decode_request(typ, body: bytes):
    """``body`` as a ``typ`` struct; :class:`BodyError` naming the field otherwise."""
    try:
        obj = _decoders[typ].decode(body)
    except msgspec.ValidationError as exc:
        raise BodyError(f"invalid request body: {exc}") from None
    except msgspec.DecodeError as exc:
        raise BodyError(f"malformed JSON body: {exc}") from None
    except UnicodeDecodeError as exc:
        raise BodyError(f"malformed JSON body: not UTF-8 ({exc.reason} at byte {exc.start})") from None
    # The typed decode accepted it, so the body is one flat object whose keys are field names (no
    # commas) and whose values are scalars. Its members are then its commas + 1 less the commas in
    # string values: fewer distinct keys than that means a key given twice (an escaped comma,
    # \u002c, can make the count low; the exact scan then decides).
    members = _members(body)
    if members:
        n = body.count(b",") + 1
        for v in members.values():
            if type(v) is str and "," in v:
                n -= v.count(",")
        if n != len(members):
            dup = _duplicate_key(body)
            if dup is not None:
                raise BodyError(f"invalid request body: duplicate key `{dup}`")
        for k in _decimal_fields[typ]:
            v = members.get(k)
            if type(v) is str and not _DECIMAL.match(v):
                raise BodyError(f"invalid request body: `{k}` must be a decimal number or a string matching "
                                f"{DECIMAL_PATTERN}, got {v!r}")
    return obj


def _duplicate_key(body: bytes) -> str | None:
    """The first key given twice, by an exact (slower) scan of the members in order."""
    pairs = json.loads(body, object_pairs_hook=lambda p: p)
    seen = set()
    for k, _ in pairs:
        if k in seen:
            return k
        seen.add(k)
    return None


# ----------------------------------------------------------------------------- responses
# (shapes for the OpenAPI description; the handlers encode the same fields)

class Asset(msgspec.Struct):
    assetCode: str
    assetId: int
    scale: int
    active: bool


class SymbolSpec(msgspec.Struct):
    symbolId: int
    symbolCode: str
    symbolType: SymbolTypeName
    baseAsset: Asset
    quoteCurrency: Asset
    lotSize: Decimal
    stepSize: Decimal
    takerFee: Decimal
    makerFee: Decimal
    marginBuy: Decimal
    marginSell: Decimal
    priceHighLimit: Decimal
    priceLowLimit: Decimal
    status: Literal["ACTIVE"]


class ServerTime(msgspec.Struct):
    isoTime: str
    epoch: int


class InfoAsset(msgspec.Struct):
    assetCode: str
    scale: int


class InfoSymbol(msgspec.Struct):
    symbolCode: str
    symbolType: SymbolTypeName
    baseAsset: str
    quoteCurrency: str
    lotSize: Decimal
    stepSize: Decimal
    takerFee: Decimal
    makerFee: Decimal
    marginBuy: Decimal
    marginSell: Decimal
    priceHighLimit: Decimal
    priceLowLimit: Decimal


class Info(msgspec.Struct):
    serverTime: ServerTime
    assets: list[InfoAsset]
    symbols: list[InfoSymbol]


class OrderBook(msgspec.Struct):
    symbol: str
    askPrices: list[Decimal]
    askVolumes: list[int]
    askOrders: list[int]
    bidPrices: list[Decimal]
    bidVolumes: list[int]
    bidOrders: list[int]
    seq: int


class Bar(msgspec.Struct):
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: int
    timestamp: int


class Deal(msgspec.Struct):
    price: Decimal
    size: int
    party: Literal["MAKER", "TAKER"]
    timestamp: int


class Order(msgspec.Struct):
    orderId: int
    price: Decimal
    unitPrice: Decimal
    reservePrice: Decimal
    size: int
    filled: int
    state: OrderStateName
    userCookie: int
    action: ActionName
    orderType: OrderTypeName
    symbol: str
    uid: int
    timestamp: int
    deals: list[Deal]
    rejectCode: int


class Account(msgspec.Struct):
    currency: str
    balance: Decimal
    held: Decimal


class UserState(msgspec.Struct):
    uid: int
    status: Literal["ACTIVE", "SUSPENDED"]
    activeOrders: list[Order]
    accounts: list[Account]


class UserHistory(msgspec.Struct):
    uid: int
    orders: list[Order]


class ApiKey(msgspec.Struct):
    uid: int
    apiKey: str
    secret: str
    role: Literal["user", "admin"]


RESPONSE_TYPES = (Asset, SymbolSpec, ServerTime, Info, OrderBook, Bar, Deal, Order, Account, UserState,
                  UserHistory, ApiKey)
