"""The OpenAPI description: served by the gateway, identical to the checked-in docs/openapi.json,
and a schemathesis fuzz of every operation (signed requests) with zero server errors."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from hypothesis import strategies as st

from .helpers import SYM

from ringgate.sw.gateway.auth import sign

DOC = Path(__file__).resolve().parents[3] / "docs" / "openapi.json"


def test_served_spec_matches_checked_in(env):
    r = requests.get(f"http://127.0.0.1:{env.port}/openapi.json", timeout=5)
    assert r.status_code == 200
    served = r.json()
    assert served == json.loads(DOC.read_text()), \
        "docs/openapi.json is stale: regenerate with `python -m ringgate.sw.gateway.openapi > docs/openapi.json`"
    assert served["openapi"].startswith("3.")
    routes = {(r.method.lower(), r.template) for r in env.gw.routes}
    assert routes == {(m, p) for p, ops in served["paths"].items() for m in ops}
    place = served["paths"]["/syncTradeApi/v1/symbols/{symbol}/trade/{uid}/orders"]["post"]
    assert place["security"] and "401" in place["responses"] and "403" in place["responses"]


class Signer(requests.auth.AuthBase):
    """Signs each fuzzed request with the key of the uid in its path (else the admin key)."""

    def __init__(self, keys: dict, admin):
        self.keys = keys
        self.admin = admin

    def __call__(self, r):
        m = re.search(r"/(?:trade|users)/(\d+)/", r.path_url)
        k = self.keys.get(int(m.group(1))) if m else None
        k = k or self.admin
        body = r.body or b""
        if isinstance(body, str):
            body = body.encode()
        import time
        ts = int(time.time() * 1000)
        r.headers["X-RG-APIKEY"] = k.api_key
        r.headers["X-RG-TIMESTAMP"] = str(ts)
        r.headers["X-RG-SIGNATURE"] = sign(k.secret, ts, r.method, r.path_url, body)
        return r


def test_schemathesis_fuzz_no_server_errors(env):
    schemathesis = pytest.importorskip("schemathesis")
    from schemathesis.checks import not_a_server_error
    url = f"http://127.0.0.1:{env.port}"
    schema = schemathesis.openapi.from_dict(json.loads(DOC.read_text()))
    u = env.user()
    # keys by uid: the test user; the admin key signs admin routes and other uids
    signer = Signer({u.uid: u}, env.admin)
    session = requests.Session()
    session.auth = signer
    failures = []
    calls = 0
    unsatisfiable = 0
    from schemathesis import GenerationMode
    ops = [r.ok() for r in schema.get_all_operations()]
    for op, mode in [(op, mode) for op in ops for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)]:

        @settings(max_examples=20 if mode is GenerationMode.POSITIVE else 15, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck), derandomize=True)
        @given(case=op.as_strategy(generation_mode=mode), own=st.booleans(), known_symbol=st.booleans())
        def run(case, own, known_symbol):
            nonlocal calls
            pp = case.path_parameters or {}
            if "uid" in pp and own:
                pp["uid"] = u.uid            # half the cases get past auth into the handlers
            if "symbol" in pp and known_symbol:
                pp["symbol"] = SYM
            res = case.call(base_url=url, session=session, timeout=10)
            calls += 1
            try:
                case.validate_response(res, checks=[not_a_server_error])
            except Exception as exc:        # collect, then report all at once
                failures.append(f"{case.method} {case.formatted_path}: {res.status_code} {res.text[:200]} ({exc})")
            assert res.status_code < 500
            ct = {k.lower(): v for k, v in res.headers.items()}.get("content-type")
            ct = ct[0] if isinstance(ct, list) else ct
            assert ct and ct.startswith("application/json"), (res.status_code, res.headers)
        try:
            run()
        except Unsatisfiable:
            assert mode is GenerationMode.NEGATIVE       # nothing to break in e.g. GET /ping
            unsatisfiable += 1
    print(f"schemathesis: {calls} calls, {len(ops)} operations, {unsatisfiable} without negative cases")
    assert unsatisfiable < len(ops)
    assert calls > 200
    assert not failures, failures[:5]
    assert env.gw.http.errors == 0
