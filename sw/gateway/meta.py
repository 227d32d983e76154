"""What the gateway knows beyond the engine: asset and symbol codes, price limits and API keys,
persisted in ``gateway-meta.json`` next to the journal (mode 0600: it holds API secrets).

The engine journals assets and symbols by id; codes and limits live here. The file is rewritten
atomically (temp file, fsync, rename) after an AddSymbol is journaled and before its reply, and
whenever keys change, so a crash in between brings a symbol back under the code ``S<id>``.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from ringgate.sw.exchange import Exchange

from .auth import KeyStore
from .errors import ApiError, GwCode
from .units import AssetMeta, SymbolMeta

__all__ = ["Metadata", "META_FILE"]

META_FILE = "gateway-meta.json"


class Metadata:
    """Assets and symbols by code and id, and the file that keeps codes, limits and keys.

    Members
    -------
    assets, assets_by_id : dict
        :class:`AssetMeta` by code and by engine id.
    symbols, symbols_by_id : dict
        :class:`SymbolMeta` by code and by engine id.
    path : Path or None
        The metadata file (None: in memory).
    """

    def __init__(self, exchange: Exchange, keys: KeyStore, directory: str | Path | None = None):
        self.ex = exchange
        self.keys = keys
        self.path = Path(directory) / META_FILE if directory is not None else None
        self.assets: dict[str, AssetMeta] = {}
        self.assets_by_id: dict[int, AssetMeta] = {}
        self.symbols: dict[str, SymbolMeta] = {}
        self.symbols_by_id: dict[int, SymbolMeta] = {}

    def load(self) -> None:
        """Assets and symbols from the engine, their codes and limits (and the keys) from the file."""
        eng = self.ex.engine
        meta = {}
        if self.path is not None and self.path.exists():
            meta = json.loads(self.path.read_text())
        with self.ex.lock:
            for a in eng.assets.values():
                self.add_asset(AssetMeta(a.asset_id, a.code, a.scale))
            smeta = meta.get("symbols", {})
            for s in eng.symbols.values():
                m = smeta.get(str(s.symbol_id), {})
                code = m.get("code") or f"S{s.symbol_id}"   # a crash between journal and meta file
                self.add_symbol(SymbolMeta(
                    s.symbol_id, code, s.symbol_type, self.assets_by_id[s.base_currency],
                    self.assets_by_id[s.quote_currency], s.base_scale_k, s.quote_scale_k, s.taker_fee,
                    s.maker_fee, s.margin_buy, s.margin_sell, m.get("high", 0), m.get("low", 0)))
        for k in meta.get("keys", []):
            self.keys.add(k["uid"], k["role"], k["apiKey"], k["secret"])

    def save(self) -> None:
        if self.path is None:
            return
        data = {"symbols": {str(s.symbol_id): {"code": s.code, "high": s.price_high, "low": s.price_low}
                            for s in self.symbols.values()},
                "keys": [k.view() for k in self.keys.keys.values()]}
        tmp = self.path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)   # holds API secrets
        with os.fdopen(fd, "w") as f:
            json.dump(data, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)

    def add_asset(self, a: AssetMeta) -> None:
        self.assets[a.code] = a
        self.assets_by_id[a.asset_id] = a

    def add_symbol(self, s: SymbolMeta) -> None:
        self.symbols[s.code] = s
        self.symbols_by_id[s.symbol_id] = s

    def symbol(self, code: str) -> SymbolMeta:
        s = self.symbols.get(code)
        if s is None:
            raise ApiError(GwCode.UNKNOWN_SYMBOL_404, f"unknown symbol {code!r}")
        return s
