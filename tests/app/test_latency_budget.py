"""The latency budget: segments by kind, end-to-end totals (entry-by-entry within a group,
independent draws across groups, projected ranges at both ends), goals, and the two figures."""
import numpy as np
import pytest

from ringgate.app.latency.budget import (GOALS, PCIE_ONE_WAY, WIRE_TO_RING, Budget, Projection, Segment,
                                         build_budget, comparison_svg, composite, waterfall_svg)


def test_segments_need_what_their_kind_says():
    with pytest.raises(ValueError, match="needs a projection"):
        Segment("pcie", "projected", "x", samples_ns=[1.0])
    with pytest.raises(ValueError, match="needs samples"):
        Segment("rtl", "exact", "x", projection=PCIE_ONE_WAY)
    with pytest.raises(ValueError, match="unknown kind"):
        Segment("rtl", "guessed", "x", samples_ns=[1.0])
    with pytest.raises(ValueError, match="non-negative"):
        Segment("rtl", "exact", "x", samples_ns=[1.0, -1.0])
    with pytest.raises(ValueError, match="one entry id per sample"):
        Segment("a", "measured", "x", samples_ns=[1.0, 2.0], group="g", entries=np.array([0]))
    with pytest.raises(ValueError, match="low <= typical <= high"):
        Projection("p", (10.0, 5.0), 7.0, ())


def test_composite_constant_segments_and_ranges_are_exact():
    segs = [Segment("a", "exact", "", np.full(10, 16.0)), Segment("pcie", "projected", "", projection=PCIE_ONE_WAY),
            Segment("b", "exact", "", np.full(10, 32.0))]
    c = composite(segs)
    lo, hi = PCIE_ONE_WAY.range_ns
    for q in (50.0, 99.0, 99.9):
        assert c[q] == (48.0 + lo, 48.0 + hi)


def test_composite_adds_a_group_entry_by_entry():
    # two segments of one group that always add up to 1000 ns (a late poll means a short hand-off):
    # as a group the total is exactly 1000; drawn independently it would spread from 0 to 2000
    a = np.arange(0, 1000, 1.0)
    grouped = [Segment("poll", "measured", "", a, group="host"), Segment("handoff", "measured", "", 1000 - a, group="host")]
    c = composite(grouped)
    assert c[99.0] == (1000.0, 1000.0) and c[50.0] == (1000.0, 1000.0)
    loose = [Segment("poll", "measured", "", a), Segment("handoff", "measured", "", 1000 - a)]
    assert composite(loose)[99.0][0] > 1800
    # entries missing from one segment of the group are left out of the sum
    part = Segment("frame", "measured", "", np.full(500, 7.0), group="host", entries=np.arange(0, 1000, 2))
    assert composite(grouped + [part])[99.0] == (1007.0, 1007.0)


def _host(n=200, late=()):
    cur = np.arange(n, dtype=np.int64) * 10_000
    cb = cur + 1_000
    res = cb + 3_000
    wr = res + 20_000
    for i in late:
        cb[i] += 50_000
        res[i] += 50_000
        wr[i] += 50_000
    wr[::7] = -1                       # refused cancels: no WebSocket update
    return {"cursor": cur, "callback": cb, "result": res, "written": wr}


def test_build_budget_from_a_run_and_a_host_measurement():
    b = build_budget(np.full(50, 4), np.full(50, 8), clock_mhz=250, host=_host(), host_label="replay")
    d = b.to_dict()
    assert [s["kind"] for s in d["segments"]] == ["gap", "exact", "exact", "projected", "measured", "measured",
                                                   "measured"]
    assert d["segments"][1]["p50_ns"] == 16.0 and d["segments"][1]["p50_cycles"] == 4
    assert d["segments"][2]["p50_ns"] == 16.0 and d["segments"][2]["p50_cycles"] == 4      # 8 - 4 cycles
    assert d["segments"][0]["range_ns"] == list(WIRE_TO_RING.range_ns)
    tot = {t["name"]: t for t in d["totals"]}
    wl, wh = WIRE_TO_RING.range_ns
    pl, ph = PCIE_ONE_WAY.range_ns
    assert tot["wire -> entry visible in host memory"]["p99_ns"] == [wl + 32 + pl, wh + 32 + ph]
    assert tot["wire -> engine result"]["p50_ns"] == [wl + 32 + pl + 4000, wh + 32 + ph + 4000]
    assert tot["wire -> engine result"]["meets_goal"] is True
    assert tot["wire -> WebSocket frame written"]["p50_ns"][0] == wl + 32 + pl + 24_000
    assert "29 entries had no WebSocket update" in d["notes"][0]
    # a host whose tail misses the goal: p99 over 10 us
    late = build_budget(np.full(50, 4), np.full(50, 8), clock_mhz=250, host=_host(late=range(0, 200, 20)))
    t = {x["name"]: x for x in late.to_dict()["totals"]}["wire -> engine result"]
    assert t["meets_goal"] is False and t["goal_ns"] == GOALS["wire -> engine result"]


def test_build_budget_without_host_and_with_exact_wire_stages():
    b = build_budget(np.full(5, 4), np.full(5, 8), clock_mhz=250, wire_ns=np.full(5, 120.0), wire_how="MAC cycles")
    d = b.to_dict()
    assert d["start"] == "the first byte on the wire" and d["segments"][0]["kind"] == "exact"
    assert [t["name"] for t in d["totals"]] == ["wire -> entry visible in host memory"]
    assert "not measured" in d["notes"][0]
    with pytest.raises(ValueError, match="no segments"):
        composite([])


def test_figures_label_every_stage_and_the_note_bands():
    b = build_budget(np.full(50, 4), np.full(50, 8), clock_mhz=250, host=_host(), modelled_link_ns=np.full(50, 17.0))
    w = waterfall_svg(b)
    assert w.startswith("<svg") and "first RQ beat -&gt; last RQ beat of the cursor TLP" in w
    assert "[projected]" in w and "[gap]" in w and "[measured]" in w
    assert "lower bound" in b.segments[3].how
    c = comparison_svg(b)
    for name in ("epoll (note)", "io_uring (note)", "DPDK (note)", "FPGA (note)", "goal p99"):
        assert name in c
    assert isinstance(b, Budget)
