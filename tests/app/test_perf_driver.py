"""The benchmark script runs and reports consistent figures (no timing asserted)."""
from __future__ import annotations

import json

from ringgate.app.perf.driver import run


def test_driver_bench_quick(tmp_path, capsys):
    out = tmp_path / "bench.json"
    res = run(quick=True, json_out=str(out))
    assert json.loads(out.read_text())["rows"] == json.loads(json.dumps(res["rows"]))
    rows = {r["name"]: r for r in res["rows"]}
    assert all(r["rate"] > 0 for r in rows.values())
    m = rows["model, MPS 256, batch 16, cursor every TLP"]
    assert rows["consumer alone, 16-entry polls"]["batch"] == 16
    # 4 entries per 256 B TLP: 9 beats of data+descriptor and a 2-beat cursor write per TLP
    assert m["data_tlps"] == m["cursor_writes"] == m["entries"] // 4
    assert m["beats"] == m["entries"] // 4 * 11
    assert rows["model + consumer, 64-entry batches"]["entries_per_batch"] == 64
    assert "entries/s" in capsys.readouterr().out
