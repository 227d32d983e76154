"""Admin endpoints (``/syncAdminApi/v1``): assets, symbols, users, balance adjustments,
suspend / resume, API keys. Every handler needs the admin credential (checked before it runs)."""
from __future__ import annotations

import msgspec

from ringgate.sw.exchange import AddAsset, AddSymbol, AddUser, AdjustBalance, ResumeUser, SuspendUser

from . import schemas as S
from .errors import ApiError, GwCode, core_name, core_response, envelope
from .routes import parse_uid
from .units import AssetMeta, SymbolMeta, to_minor

__all__ = ["AdminApi"]


class AdminApi:
    """Handlers of the admin routes; ``gw`` is the :class:`~ringgate.sw.gateway.app.Gateway`."""

    def __init__(self, gw):
        self.gw = gw
        self.meta = gw.meta
        self._pending_codes: set[str] = set()     # asset / symbol codes submitted, not yet answered

    async def add_asset(self, req, p, key):
        b = self.gw.body(req, S.AddAssetRequest)
        if b.assetCode in self.meta.assets or b.assetCode in self._pending_codes:
            raise ApiError(GwCode.ASSET_ALREADY_EXISTS, f"asset {b.assetCode!r} already exists")
        self._pending_codes.add(b.assetCode)
        try:
            r = await self.gw.submit(AddAsset(b.assetId, b.assetCode, b.scale))
        finally:
            self._pending_codes.discard(b.assetCode)
        if r.ok:
            self.meta.add_asset(AssetMeta(b.assetId, b.assetCode, b.scale))
        return core_response(r, msgspec.to_builtins(b), 201)

    async def add_symbol(self, req, p, key):
        b = self.gw.body(req, S.AddSymbolRequest)
        meta = self.meta
        if b.symbolId in meta.symbols_by_id or b.symbolCode in meta.symbols or \
                ("sym:" + b.symbolCode) in self._pending_codes:
            raise ApiError(GwCode.SYMBOL_ALREADY_EXISTS, f"symbol {b.symbolCode!r} / id {b.symbolId} already exists")
        base = meta.assets.get(b.baseAsset)
        if base is None:
            raise ApiError(GwCode.UNKNOWN_BASE_ASSET, f"unknown base asset {b.baseAsset!r}")
        quote = meta.assets.get(b.quoteCurrency)
        if quote is None:
            raise ApiError(GwCode.UNKNOWN_QUOTE_CURRENCY, f"unknown quote currency {b.quoteCurrency!r}")
        if base is quote:
            raise ApiError(GwCode.INVALID_CONFIGURATION, "invalid configuration: baseAsset equals quoteCurrency")
        ic = GwCode.INVALID_CONFIGURATION

        def minor(v, asset, field, positive=False):
            try:
                i = to_minor(v, asset.scale, field, ic, range_code=ic, unit=asset.code)
            except ApiError as exc:
                raise ApiError(ic, f"invalid configuration: {exc.message}") from None
            if positive and i <= 0:
                raise ApiError(ic, f"invalid configuration: `{field}` must be > 0")
            return i

        bsk = minor(b.lotSize, base, "lotSize", True)
        qsk = minor(b.stepSize, quote, "stepSize", True)
        taker = minor(b.takerFee, quote, "takerFee")
        maker = minor(b.makerFee, quote, "makerFee")
        if taker < maker:
            raise ApiError(ic, "invalid configuration: takerFee must be >= makerFee")
        mb = minor(b.marginBuy, quote, "marginBuy")
        ms = minor(b.marginSell, quote, "marginSell")
        stype = S.SYMBOL_TYPE_CODES[b.symbolType]
        if stype == 0 and (mb or ms):
            raise ApiError(ic, "invalid configuration: marginBuy/marginSell must be 0 for an exchange pair")
        if stype == 1 and (mb <= 0 or ms <= 0):
            raise ApiError(ic, "invalid configuration: marginBuy/marginSell must be > 0 for a futures contract")
        s = SymbolMeta(b.symbolId, b.symbolCode, stype, base, quote, bsk, qsk, taker, maker, mb, ms)
        try:
            s.price_high = s.steps(b.priceHighLimit, "priceHighLimit")
            s.price_low = s.steps(b.priceLowLimit, "priceLowLimit")
        except ApiError as exc:
            raise ApiError(ic, f"invalid configuration: {exc.message}") from None
        if s.price_high and s.price_low > s.price_high:
            raise ApiError(ic, "invalid configuration: priceLowLimit is above priceHighLimit")
        self._pending_codes.add("sym:" + b.symbolCode)
        try:
            r = await self.gw.submit(AddSymbol(b.symbolId, stype, base.asset_id, quote.asset_id, bsk, qsk, taker,
                                               maker, mb, ms))
        finally:
            self._pending_codes.discard("sym:" + b.symbolCode)
        if r.ok:
            meta.add_symbol(s)
            meta.save()
        return core_response(r, s.view(), 201)

    async def add_user(self, req, p, key):
        b = self.gw.body(req, S.AddUserRequest)
        r = await self.gw.submit(AddUser(b.uid))
        if r.ok:
            self.gw.orders.known_users.add(b.uid)
        # exchange-gateway-rest answers 201 whatever the core said (duplicates: coreResultCode -4001)
        return envelope(201, b.uid, 0, r.result_code, core_name(r.result_code))

    async def adjust_balance(self, req, p, key):
        uid = parse_uid(p["uid"])
        b = self.gw.body(req, S.BalanceAdjustmentRequest)
        a = self.meta.assets.get(b.currency)
        if a is None:
            raise ApiError(GwCode.UNKNOWN_CURRENCY, f"unknown currency {b.currency!r}")
        amount = to_minor(b.amount, a.scale, "amount", allow_negative=True, unit=a.code)
        r = await self.gw.submit(AdjustBalance(uid, a.asset_id, amount, b.transactionId))
        return core_response(r, uid, 201)

    async def suspend_user(self, req, p, key):
        uid = parse_uid(p["uid"])
        return core_response(await self.gw.submit(SuspendUser(uid)), uid, 200)

    async def resume_user(self, req, p, key):
        uid = parse_uid(p["uid"])
        return core_response(await self.gw.submit(ResumeUser(uid)), uid, 200)

    def create_key(self, req, p, key):
        uid = parse_uid(p["uid"])
        if self.gw.ex.user_report(uid) is None:
            raise ApiError(GwCode.UNKNOWN_USER_404, f"unknown user {uid}")
        return envelope(201, self.gw.add_key(uid).view())

    def revoke_keys(self, req, p, key):
        """Revoke every key of the uid and end the WebSocket sessions authenticated with them."""
        uid = parse_uid(p["uid"])
        gone = self.gw.keys.revoke(uid)
        self.meta.save()
        self.gw.fanout.end_sessions(gone, "API key revoked")
        return envelope(200, len(gone))
