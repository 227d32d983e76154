"""Decimal <-> engine units, done right.

The engine counts sizes in lots (1 lot = ``base_scale_k`` minor units of the base asset) and
prices in steps per lot (1 step = ``quote_scale_k`` minor units of the quote currency). The Java
gateway converted a decimal price as ``price * 10**quoteScale`` and ignored the step, which is
right only when the step is one minor unit. Here:

* ``price`` (per lot, quote currency)  -> steps = price * 10**quote_scale / quote_scale_k
* ``unitPrice`` (per whole base unit)   -> per-lot price = unitPrice * lotSize, then as above

and a value that is not a whole number of steps is refused (``INVALID_PRICE``), never rounded.
"""
from __future__ import annotations

import decimal
from decimal import Decimal

from .errors import ApiError, GwCode

__all__ = ["AssetMeta", "SymbolMeta", "check_decimal", "to_minor", "CTX"]

CTX = decimal.Context(prec=80, Emax=200, Emin=-200, traps=[decimal.InvalidOperation, decimal.Overflow])
_INT64 = 2**63 - 1
_ZERO = Decimal(0)
_ONE = Decimal(1)


def check_decimal(value: Decimal, field: str, allow_negative: bool = False) -> Decimal:
    """Refuse NaN, infinities, absurd exponents (a DoS vector for Decimal arithmetic) and
    (unless allowed) negatives, naming the field."""
    if not value.is_finite():
        raise ApiError(GwCode.INVALID_REQUEST, f"`{field}` must be a finite number")
    if value and not -40 <= value.adjusted() <= 40:
        raise ApiError(GwCode.INVALID_REQUEST, f"`{field}` is out of range")
    if value < 0 and not allow_negative:
        raise ApiError(GwCode.INVALID_REQUEST, f"`{field}` must be >= 0")
    return value


def _integral(x: Decimal) -> int | None:
    """``x`` as an int if it is a whole number (any size), else None."""
    if x == x.to_integral_value(context=CTX):
        return int(x)
    return None


def _largest(unit: Decimal) -> Decimal:
    """The largest decimal that is 2**63 - 1 units of ``unit``."""
    return CTX.multiply(Decimal(_INT64), unit).normalize(CTX)


def to_minor(value: Decimal, scale: int, field: str, code: GwCode = GwCode.PRECISION_IS_TOO_HIGH,
             allow_negative: bool = False, range_code: GwCode = GwCode.INVALID_REQUEST, unit: str = "") -> int:
    """Decimal amount -> integer minor units at ``scale``; refuses extra decimals (``code``) and
    amounts beyond a 64-bit count of minor units (``range_code``), each with its own reason."""
    check_decimal(value, field, allow_negative)
    i = _integral(CTX.multiply(value, Decimal(10) ** scale))
    if i is None:
        raise ApiError(code, f"`{field}` {value} has more decimals than the scale {scale} allows")
    if not -_INT64 <= i <= _INT64:
        top = _largest(Decimal(1).scaleb(-scale))
        raise ApiError(range_code, f"`{field}` {value} is out of range: at most {top:f}{' ' + unit if unit else ''} "
                                   f"in magnitude (2^63-1 minor units at scale {scale})")
    return i


class AssetMeta:
    __slots__ = ("asset_id", "code", "scale")

    def __init__(self, asset_id: int, code: str, scale: int):
        self.asset_id = asset_id
        self.code = code
        self.scale = scale

    def to_decimal(self, minor: int) -> Decimal:
        return Decimal(minor).scaleb(-self.scale) if minor else _ZERO

    def view(self) -> dict:
        return {"assetCode": self.code, "assetId": self.asset_id, "scale": self.scale, "active": True}


class SymbolMeta:
    __slots__ = ("symbol_id", "code", "symbol_type", "base", "quote", "base_scale_k", "quote_scale_k",
                 "taker_fee", "maker_fee", "margin_buy", "margin_sell", "price_high", "price_low",
                 "lot_size", "step_size", "_step_dec", "_prices", "_units")

    def __init__(self, symbol_id: int, code: str, symbol_type: int, base: AssetMeta, quote: AssetMeta,
                 base_scale_k: int, quote_scale_k: int, taker_fee: int, maker_fee: int,
                 margin_buy: int, margin_sell: int, price_high: int = 0, price_low: int = 0):
        self.symbol_id = symbol_id
        self.code = code
        self.symbol_type = symbol_type
        self.base = base
        self.quote = quote
        self.base_scale_k = base_scale_k
        self.quote_scale_k = quote_scale_k
        self.taker_fee = taker_fee
        self.maker_fee = maker_fee
        self.margin_buy = margin_buy
        self.margin_sell = margin_sell
        self.price_high = price_high          # steps per lot; 0 = no limit
        self.price_low = price_low
        self.lot_size = Decimal(base_scale_k).scaleb(-base.scale)
        self.step_size = Decimal(quote_scale_k).scaleb(-quote.scale)
        self._step_dec = self.step_size
        self._prices: dict[int, Decimal] = {}
        self._units: dict[int, Decimal] = {}

    # prices ---------------------------------------------------------------

    def steps(self, price: Decimal, field: str = "price") -> int:
        """Per-lot decimal price (or budget) -> steps; refuses a price off the step grid."""
        check_decimal(price, field)
        q = CTX.divide(price, self._step_dec)
        i = _integral(q)
        if i is None:
            raise ApiError(GwCode.INVALID_PRICE,
                           f"`{field}` {price} is not a multiple of the price step {self.step_size} "
                           f"(per lot of {self.lot_size} {self.base.code})")
        return self._in_range(i, price, field, f"{self.quote.code} per lot")

    def unit_steps(self, unit_price: Decimal, field: str = "unitPrice") -> int:
        """Price per whole base unit -> steps per lot."""
        check_decimal(unit_price, field)
        q = CTX.divide(CTX.multiply(unit_price, self.lot_size), self._step_dec)
        i = _integral(q)
        if i is None:
            raise ApiError(GwCode.INVALID_PRICE,
                           f"`{field}` {unit_price} per {self.base.code} is not a whole number of price "
                           f"steps ({self.step_size} {self.quote.code} per lot of {self.lot_size})")
        return self._in_range(i, unit_price, field, f"{self.quote.code} per {self.base.code}",
                              CTX.divide(self._step_dec, self.lot_size))

    def _in_range(self, steps: int, value: Decimal, field: str, unit: str, step: Decimal | None = None) -> int:
        if steps > _INT64:
            top = _largest(self._step_dec if step is None else step)
            raise ApiError(GwCode.INVALID_PRICE, f"`{field}` {value} is out of range: at most {top:f} {unit} "
                                                 f"(2^63-1 price steps of {self.step_size})")
        return steps

    def price(self, steps: int) -> Decimal:
        d = self._prices.get(steps)           # a book trades around few prices: cache the Decimals
        if d is None:
            d = Decimal(steps * self.quote_scale_k).scaleb(-self.quote.scale) if steps else _ZERO
            if len(self._prices) >= 4096:
                self._prices.clear()
            self._prices[steps] = d
        return d

    def unit_price(self, steps: int) -> Decimal:
        d = self._units.get(steps)
        if d is None:
            if not steps:
                return _ZERO
            q = CTX.divide(self.price(steps), self.lot_size).normalize(CTX)
            d = q.quantize(_ONE) if q.as_tuple().exponent > 0 else q      # 60100, not 6.01E+4
            if len(self._units) >= 4096:
                self._units.clear()
            self._units[steps] = d
        return d

    def fee(self, minor: int) -> Decimal:
        return self.quote.to_decimal(minor)

    def view(self) -> dict:
        from .schemas import SYMBOL_TYPES
        return {
            "symbolId": self.symbol_id, "symbolCode": self.code, "symbolType": SYMBOL_TYPES[self.symbol_type],
            "baseAsset": self.base.view(), "quoteCurrency": self.quote.view(),
            "lotSize": self.lot_size, "stepSize": self.step_size,
            "takerFee": self.fee(self.taker_fee), "makerFee": self.fee(self.maker_fee),
            "marginBuy": self.fee(self.margin_buy), "marginSell": self.fee(self.margin_sell),
            "priceHighLimit": self.price(self.price_high), "priceLowLimit": self.price(self.price_low),
            "status": "ACTIVE",
        }

    def info_view(self) -> dict:
        v = self.view()
        v["baseAsset"] = self.base.code
        v["quoteCurrency"] = self.quote.code
        del v["status"], v["symbolId"]
        return v
