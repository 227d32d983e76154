"""OpenAPI 3.1 description generated from the route table and the msgspec types.

``python -m ringgate.sw.gateway.openapi > docs/openapi.json`` regenerates the checked-in copy; a test
checks that it equals what a running gateway serves at ``/openapi.json``.
"""
from __future__ import annotations

import json
import re
import sys

import msgspec

from . import schemas as S
from .errors import GwCode, status_of

__all__ = ["build_spec", "spec_bytes", "VERSION"]

VERSION = "1.0.0"
_DECIMAL = {"anyOf": [{"type": "number"}, {"type": "string", "pattern": S.DECIMAL_PATTERN}],
            "description": "decimal, as a JSON number or a string"}
_cache: dict[int, bytes] = {}


def _fix_decimals(node):
    """msgspec describes Decimal as a string with format "decimal"; we also accept numbers."""
    if isinstance(node, dict):
        if node.get("type") == "string" and node.get("format") == "decimal":
            out = dict(_DECIMAL)
            if "description" in node:
                out["description"] = node["description"]
            return out
        return {k: _fix_decimals(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_fix_decimals(v) for v in node]
    return node


def _envelope(data_schema: dict | None) -> dict:
    return {"type": "object", "required": ["ticket", "gatewayResultCode", "coreResultCode", "description", "data"],
            "properties": {"ticket": {"type": "integer"}, "gatewayResultCode": {"type": "integer"},
                           "coreResultCode": {"type": "integer"},
                           "description": {"anyOf": [{"type": "string"}, {"type": "null"}]},
                           "data": data_schema if data_schema is not None else {}}}


def build_spec(gateway) -> dict:
    routes = gateway.routes
    types = list(S.REQUEST_TYPES) + list(S.RESPONSE_TYPES)
    (schemas_for, components) = msgspec.json.schema_components(types, ref_template="#/components/schemas/{name}")
    refs = dict(zip(types, schemas_for))
    components = _fix_decimals(components)
    components["Envelope"] = _envelope(None)
    error_codes = ", ".join(f"{int(c)} {c.name} ({status_of(c)})" for c in GwCode)
    paths: dict = {}
    for r in routes:
        op: dict = {"summary": r.summary, "operationId": f"{r.method.lower()}_" + re.sub(
            r"[^A-Za-z0-9]+", "_", r.template.strip("/")).strip("_"), "tags": list(r.tags)}
        params = []
        for part in r.parts:
            if part.startswith("{"):
                name = part[1:-1]
                sch = {"type": "string"}
                if name == "uid":
                    sch = {"type": "integer", "minimum": 1, "maximum": 2**63 - 1}
                elif name == "orderId":
                    sch = {"type": "integer", "minimum": 0, "maximum": 2**63 - 1}
                elif name == "timeFrame":
                    sch = {"type": "string", "enum": ["M1", "M5", "M15", "H1", "H4", "D1", "W1"]}
                elif name == "symbol":
                    sch = {"type": "string", "pattern": r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,31}$"}
                params.append({"name": name, "in": "path", "required": True, "schema": sch})
        for name, required, desc in r.query:
            params.append({"name": name, "in": "query", "required": required, "description": desc,
                           "schema": {"type": "integer", "minimum": -2**31, "maximum": 2**31 - 1}})
        if params:
            op["parameters"] = params
        if r.body is not None:
            op["requestBody"] = {"required": True, "content": {"application/json": {"schema": refs[r.body]}}}
        if r.data is None:
            data_schema = {"type": "null"} if r.template != "/openapi.json" else None
        elif r.data is int:
            data_schema = {"type": "integer"}
        elif r.data in refs:
            data_schema = refs[r.data]
        else:
            data_schema = _fix_decimals(msgspec.json.schema_components(
                [r.data], ref_template="#/components/schemas/{name}")[0][0])
        err = {"description": "error envelope: gatewayResultCode names the gateway error, coreResultCode the "
                              "engine's; description says what is wrong (and names the field)",
               "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Envelope"}}}}
        if r.template == "/openapi.json":
            op["responses"] = {"200": {"description": "OpenAPI 3.1 document",
                                       "content": {"application/json": {"schema": {"type": "object"}}}}}
        else:
            op["responses"] = {str(r.status): {"description": "success",
                                               "content": {"application/json": {"schema": _envelope(data_schema)}}},
                               "400": err, "404": err, "405": err}
            if r.body is not None:
                op["responses"]["413"] = err
                op["responses"]["415"] = err
        if r.auth != "public":
            op["security"] = [{"apiKey": [], "timestamp": [], "signature": []}]
            op["responses"]["401"] = err
            op["responses"]["403"] = err
            op["description"] = ("Signed request. " + ("Admin credential required."
                                                         if r.auth == "admin" else
                                                         "The key must belong to `uid` (an admin key may "
                                                         "read, never trade)."))
        if r.errors:
            op["description"] = (op.get("description", "") + " Gateway errors: " +
                                 ", ".join(f"{c} {GwCode(c).name}" for c in r.errors)).strip()
        paths.setdefault(r.template, {})[r.method.lower()] = op
    return {
        "openapi": "3.1.0",
        "info": {"title": "ringgate gateway", "version": VERSION,
                 "description": "exchange-gateway-rest's REST API (same paths, bodies and envelope) plus "
                                "reduce, suspend/resume, single-order status, per-unit prices and API keys. "
                                "WebSocket topics on /ws (see docs/gateway.md). Gateway error codes: "
                                + error_codes + "."},
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {
                "apiKey": {"type": "apiKey", "in": "header", "name": "X-RG-APIKEY"},
                "timestamp": {"type": "apiKey", "in": "header", "name": "X-RG-TIMESTAMP",
                              "description": "milliseconds since the epoch, within the server's window"},
                "signature": {"type": "apiKey", "in": "header", "name": "X-RG-SIGNATURE",
                              "description": "hex HMAC-SHA256(secret, timestamp + METHOD + path?query + body)"},
            },
        },
    }


def spec_bytes(gateway) -> bytes:
    b = _cache.get(id(gateway))
    if b is None:
        b = _cache[id(gateway)] = (json.dumps(build_spec(gateway), indent=2, sort_keys=True) + "\n").encode()
    return b


def main():
    from ringgate.sw.exchange import Exchange
    from .app import Gateway
    sys.stdout.write(spec_bytes(Gateway(Exchange.in_memory())).decode())


if __name__ == "__main__":
    main()
