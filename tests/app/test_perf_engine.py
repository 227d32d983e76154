"""The benchmark runs end to end and generates exchange-core's mix (no timing assertions)."""
from __future__ import annotations

import json

from ringgate.app.perf.engine import mix_stats, run
from ringgate.sw.exchange.workload import generate


def test_generated_mix_resembles_exchange_core():
    setup, cmds, eng = generate(20_000, seed=3)
    mix = {k: float(v.rstrip("%")) for k, v in mix_stats(cmds, setup).items() if str(v).endswith("%")}
    assert 7 <= mix["GTC"] <= 12 and 2 <= mix["IOC"] <= 4 and 4 <= mix["cancel"] <= 8 and 78 <= mix["move"] <= 85
    assert 3 <= mix["commands_with_trades"] <= 9
    book = eng.books[0]
    assert 700 <= len(book.orders) <= 1300
    assert 450 <= len(book.levels(0)) + len(book.levels(1)) <= 1000


def test_bench_main_smoke(tmp_path, capsys):
    out = tmp_path / "bench.json"
    returned = run(commands=3000, latency_commands=1000, rates="50000", skip_multi=True, memory_orders=2000,
                   json_out=str(out))
    report = json.loads(out.read_text())
    assert report == json.loads(json.dumps(returned))
    assert report["single"]["throughput"]["commands"] == 3000
    assert report["single"]["latency_ns"][0]["p50"] > 0
    assert report["memory"]["orders"] == 2000
    assert report["single"]["throughput"]["apply_ops_per_s"] > 0
    assert "ops_per_s" in capsys.readouterr().out
