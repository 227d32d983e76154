"""The response envelope and the gateway's error codes.

Codes 1000-1010 and their HTTP statuses are exchange-gateway-rest's ``ApiErrorCodes``. Codes from
1011 on are ringgate additions for what the Java gateway answered with Spring's default error
body (malformed JSON, bad enum, missing parameter) or did not check at all (auth, limits).
Every error is an envelope: a client parses one shape whatever went wrong.
"""
from __future__ import annotations

import decimal
import enum
from typing import Any

import msgspec

from ringgate.sw.exchange import CommandResultCode

from .http import Response

__all__ = ["GwCode", "ApiError", "envelope", "error_response", "ok", "encode", "core_name", "core_response"]


class GwCode(enum.IntEnum):
    SYMBOL_ALREADY_EXISTS = 1000
    UNKNOWN_BASE_ASSET = 1001
    UNKNOWN_QUOTE_CURRENCY = 1002
    ASSET_ALREADY_EXISTS = 1003
    UNKNOWN_CURRENCY = 1004
    PRECISION_IS_TOO_HIGH = 1005
    UNKNOWN_SYMBOL = 1006
    UNKNOWN_SYMBOL_404 = 1007
    INVALID_CONFIGURATION = 1008
    INVALID_PRICE = 1009
    UNKNOWN_USER_404 = 1010
    # ringgate additions
    INVALID_REQUEST = 1011          # body / parameter failed typed decoding; the message names the field
    UNAUTHORIZED = 1012             # no / unknown key, bad signature, timestamp outside the window
    FORBIDDEN = 1013                # valid key, but not allowed here (another user's data, not admin)
    NOT_FOUND = 1014                # no such route
    METHOD_NOT_ALLOWED = 1015
    PAYLOAD_TOO_LARGE = 1016
    PRICE_OUT_OF_LIMITS = 1017      # the symbol's priceLowLimit / priceHighLimit (stored AND enforced)
    UNKNOWN_ORDER_404 = 1018
    UNSUPPORTED_MEDIA_TYPE = 1019
    SERVICE_UNAVAILABLE = 1020      # journal failed, shutting down, too many connections
    HEADERS_TOO_LARGE = 1021
    REQUEST_TIMEOUT = 1022
    INTERNAL_ERROR = 1023


HTTP_STATUS = {
    GwCode.UNKNOWN_SYMBOL_404: 404, GwCode.UNKNOWN_USER_404: 404, GwCode.UNKNOWN_ORDER_404: 404,
    GwCode.UNAUTHORIZED: 401, GwCode.FORBIDDEN: 403, GwCode.NOT_FOUND: 404, GwCode.METHOD_NOT_ALLOWED: 405,
    GwCode.PAYLOAD_TOO_LARGE: 413, GwCode.UNSUPPORTED_MEDIA_TYPE: 415, GwCode.SERVICE_UNAVAILABLE: 503,
    GwCode.HEADERS_TOO_LARGE: 431, GwCode.REQUEST_TIMEOUT: 408, GwCode.INTERNAL_ERROR: 500,
}
_BY_STATUS = {413: GwCode.PAYLOAD_TOO_LARGE, 431: GwCode.HEADERS_TOO_LARGE, 408: GwCode.REQUEST_TIMEOUT,
              503: GwCode.SERVICE_UNAVAILABLE, 500: GwCode.INTERNAL_ERROR, 400: GwCode.INVALID_REQUEST,
              404: GwCode.NOT_FOUND, 405: GwCode.METHOD_NOT_ALLOWED, 401: GwCode.UNAUTHORIZED,
              403: GwCode.FORBIDDEN}


def status_of(code: GwCode) -> int:
    return HTTP_STATUS.get(code, 400)


class ApiError(Exception):
    """Raised by handlers; becomes an envelope with the code's HTTP status."""

    def __init__(self, code: GwCode, message: str, status: int | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status if status is not None else status_of(code)


class Envelope(msgspec.Struct, omit_defaults=False):
    """exchange-gateway-rest's ``RestGenericResponse``."""
    ticket: int
    gatewayResultCode: int
    coreResultCode: int
    description: str | None
    data: Any


_encoder = msgspec.json.Encoder(decimal_format="number")
encode = _encoder.encode


def envelope(status: int, data: Any = None, gw: int = 0, core: int = 0, description: str | None = None,
             headers: tuple = ()) -> Response:
    return Response(status, encode(Envelope(0, gw, core, description, data)), headers=headers)


def ok(data: Any = None, status: int = 200) -> Response:
    return envelope(status, data)


def error_response(code: GwCode, message: str, status: int | None = None) -> Response:
    return envelope(status if status is not None else status_of(code), None, int(code), 0, message)


def core_name(code: int) -> str:
    """The engine's name of a result code (``SUCCESS``, ``RISK_NSF``...), as the envelope's description."""
    try:
        return CommandResultCode(code).name
    except ValueError:
        return str(code)


def core_response(result, data, success: int) -> Response:
    """exchange-gateway-rest's ``coreResponse``: success status if the core said SUCCESS, else 400."""
    code = result.result_code
    return envelope(success if code == 100 else 400, data, 0, code, core_name(code))


def protocol_error(status: int, message: str) -> Response:
    """Errors raised by the HTTP layer itself (413, 431, 408, 503, 400 framing)."""
    return error_response(_BY_STATUS.get(status, GwCode.INVALID_REQUEST), message, status)


def dec(x) -> decimal.Decimal:
    return x if isinstance(x, decimal.Decimal) else decimal.Decimal(x)
