"""The route table and its matcher: method + path template -> handler, access level, request and
response types (the OpenAPI description is generated from the same table)."""
from __future__ import annotations

from .errors import ApiError, GwCode

__all__ = ["Route", "Router", "PUBLIC", "USER", "ADMIN", "ADMIN_PREFIX", "TRADE_PREFIX", "parse_uid", "parse_order_id"]

PUBLIC, USER, ADMIN = "public", "user", "admin"
ADMIN_PREFIX = "/syncAdminApi/v1"
TRADE_PREFIX = "/syncTradeApi/v1"


class Route:
    """One operation.

    Members
    -------
    method, template : str
        HTTP method and path template (``{name}`` parts are path parameters).
    handler : callable(request, params, key)
        Returns a Response, an awaitable of one, or a coroutine.
    auth : PUBLIC, USER or ADMIN
    body, data : type
        Request struct and the envelope's ``data`` type (OpenAPI).
    summary, status, query, tags, errors
        OpenAPI: summary, success status, query parameters ``(name, required, description)``,
        tags and the gateway error codes the operation can answer.
    """
    __slots__ = ("method", "template", "parts", "handler", "auth", "body", "summary", "status", "data",
                 "query", "tags", "errors")

    def __init__(self, method, template, handler, auth, body=None, summary="", status=200, data=None,
                 query=(), tags=(), errors=()):
        self.method = method
        self.template = template
        self.parts = template.strip("/").split("/")
        self.handler = handler
        self.auth = auth
        self.body = body
        self.summary = summary
        self.status = status
        self.data = data
        self.query = query
        self.tags = tags
        self.errors = errors


class Router:
    """Static paths by dict lookup, templated ones by part count; recent (method, path) pairs cached
    (clients hit the same few paths over and over: their uid, their symbols)."""

    def __init__(self, routes: list[Route], cache_size: int = 8192):
        self.routes = routes
        self._static: dict[str, dict[str, Route]] = {}
        self._dynamic: dict[int, list[Route]] = {}
        self._cache: dict = {}
        self._cache_size = cache_size
        for r in routes:
            if "{" in r.template:
                self._dynamic.setdefault(len(r.parts), []).append(r)
            else:
                self._static.setdefault(r.template, {})[r.method] = r

    def match(self, method: str, path: str) -> tuple[Route, dict]:
        """(route, path parameters); ApiError 404 / 405 naming what is allowed otherwise."""
        key = (method, path)
        hit = self._cache.get(key)
        if hit is not None:
            return hit[0], dict(hit[1])
        route, params = self._match(method, path)
        if len(self._cache) >= self._cache_size:
            self._cache.clear()
        self._cache[key] = (route, dict(params))
        return route, params

    def _match(self, method: str, path: str) -> tuple[Route, dict]:
        if len(path) > 1 and path.endswith("/"):
            path = path[:-1]
        by_method = self._static.get(path)
        if by_method is not None:
            r = by_method.get(method) or (by_method.get("GET") if method == "HEAD" else None)
            if r is None:
                raise ApiError(GwCode.METHOD_NOT_ALLOWED, f"{method} not allowed on {path}; "
                               f"allowed: {', '.join(sorted(by_method))}")
            return r, {}
        parts = path.strip("/").split("/")
        allowed = []
        for r in self._dynamic.get(len(parts), ()):
            params = {}
            for t, p in zip(r.parts, parts):
                if t[0] == "{":
                    params[t[1:-1]] = p
                elif t != p:
                    break
            else:
                if r.method == method or (method == "HEAD" and r.method == "GET"):
                    return r, params
                allowed.append(r.method)
        if allowed:
            raise ApiError(GwCode.METHOD_NOT_ALLOWED,
                           f"{method} not allowed on {path}; allowed: {', '.join(sorted(allowed))}")
        raise ApiError(GwCode.NOT_FOUND, f"no such endpoint: {method} {path}")


_INT64 = 2**63 - 1


def parse_uid(s) -> int:
    """Path parameter ``uid``: an integer in 1..2^63-1."""
    if isinstance(s, int):
        return s
    if not s.isdigit() or not 1 <= int(s) <= _INT64:
        raise ApiError(GwCode.INVALID_REQUEST, f"path parameter `uid` must be an integer in 1..2^63-1, got {s!r}")
    return int(s)


def parse_order_id(s: str) -> int:
    """Path parameter ``orderId``: an integer in 0..2^63-1."""
    if not s.isdigit() or not 0 <= int(s) <= _INT64:
        raise ApiError(GwCode.INVALID_REQUEST, f"path parameter `orderId` must be an integer in 0..2^63-1, "
                       f"got {s!r}")
    return int(s)
