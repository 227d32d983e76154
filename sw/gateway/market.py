"""Public endpoints: ping, time, info, order book, bars and the OpenAPI document."""
from __future__ import annotations

from .bars import TIME_FRAMES
from .errors import ApiError, GwCode, envelope
from .http import Response
from .views import bars_view, book_view, server_time

__all__ = ["MarketApi"]


class MarketApi:
    """Handlers of the public routes; ``gw`` is the :class:`~ringgate.sw.gateway.app.Gateway`."""

    def __init__(self, gw):
        self.gw = gw
        self.meta = gw.meta

    def ping(self, req, p, key):
        return envelope(200, None)

    def time(self, req, p, key):
        return envelope(200, server_time())

    def info(self, req, p, key):
        return envelope(200, {"serverTime": server_time(),
                              "assets": [{"assetCode": a.code, "scale": a.scale} for a in self.meta.assets.values()],
                              "symbols": [s.info_view() for s in self.meta.symbols.values()]})

    def orderbook(self, req, p, key):
        s = self.meta.symbol(p["symbol"])
        depth = None
        for part in req.query.split("&"):
            if part.startswith("depth="):
                depth = part[6:]
        if depth is None:
            raise ApiError(GwCode.INVALID_REQUEST, "query parameter `depth` is required (integer; < 0 = full book)")
        try:
            d = int(depth)
            if not -2**31 <= d < 2**31:
                raise ValueError
        except ValueError:
            raise ApiError(GwCode.INVALID_REQUEST, f"query parameter `depth` must be an integer, got {depth!r}") \
                from None
        book = self.gw.ex.order_book(s.symbol_id, d)
        return envelope(200, book_view(s, book), 0, 100, "SUCCESS")

    def get_bars(self, req, p, key):
        s = self.meta.symbol(p["symbol"])
        tf = p["timeFrame"]
        if tf not in TIME_FRAMES:
            raise ApiError(GwCode.INVALID_REQUEST, f"path parameter `timeFrame` must be one of "
                           f"{', '.join(TIME_FRAMES)}, got {tf!r}")
        return envelope(200, bars_view(s, self.gw.fanout.bars.get(s.symbol_id, tf)))

    def openapi(self, req, p, key):
        from .openapi import spec_bytes
        return Response(200, spec_bytes(self.gw))
