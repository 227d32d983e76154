"""One order cycle by cycle: trace checks, the WaveJSON encoding, the SVG drawing."""
import re
import xml.etree.ElementTree as ET

import pytest

from ringgate.app.latency.timing import check_trace, svg, wavejson


def _trace():
    return {"entry": 7, "period_ns": 4, "start_cycle": 1000, "zero": 1,
            "lanes": [{"name": "ring i.valid", "kind": "bit", "values": [0, 1, 1, 0, None, 0]},
                      {"name": "published", "kind": "bus", "values": [6, 6, 7, 7, 7, 8]},
                      {"name": "RQ beat", "kind": "label", "values": ["", "H7", "D", "D", "w", ""],
                       "highlight": [False, True, True, True, False, False]}],
            "marks": [{"cycle": 1, "label": "ring accept"}, {"cycle": 3, "label": "last beat"}],
            "notes": ["H<n>: a data TLP's first beat"]}


def test_wavejson_encodes_bits_buses_and_one_box_per_beat():
    w = wavejson(_trace())
    names = [s["name"] for s in w["signal"]]
    assert names == ["clk", "ring i.valid", "published", "RQ beat"]
    assert w["signal"][0]["wave"] == "p....."
    assert w["signal"][1]["wave"] == "01.0x0"
    assert w["signal"][2] == {"name": "published", "wave": "=.=..=", "data": ["6", "7", "8"]}
    # equal neighbouring beats stay separate boxes (D, D); empty cycles are high impedance
    assert w["signal"][3] == {"name": "RQ beat", "wave": "z====z", "data": ["H7", "D", "D", "w"]}
    assert w["head"]["tick"] == -1 and "cycle 0 = simulation cycle 1001" in w["head"]["text"]
    assert w["foot"]["text"] == "ring accept @ 1; last beat @ 3"


def test_svg_draws_every_lane_mark_and_highlight():
    s = svg(_trace())
    root = ET.fromstring(s)                       # well-formed XML
    assert root.tag.endswith("svg")
    for text in ("clk (4 ns)", "ring i.valid", "published", "RQ beat", "H7",
                 "ring accept (cycle 0, 0 ns)", "last beat (cycle 2, 8 ns)", "H&lt;n&gt;: a data TLP"):
        assert text in s
    assert s.count('fill="#f4a261"') == 3        # the entry's own beats
    # cycle numbers relative to the zero mark: -1 is left of 0, so 0 and 5 are numbered... 0 only here
    assert re.search(r">0</text>", s) and not re.search(r">1000</text>", s)


@pytest.mark.parametrize("mutate,msg", [
    (lambda t: t.update(lanes=[]), "at least one lane"),
    (lambda t: t["lanes"][1].update(values=[6, 7]), "has 2 values"),
    (lambda t: t["lanes"][0].update(values=[0, 2, 1, 0, 0, 0]), "bits must be"),
    (lambda t: t["lanes"][1].update(kind="analog"), "kind must be"),
    (lambda t: t["marks"].append({"cycle": 6, "label": "late"}), "outside the trace"),
    (lambda t: t["lanes"][2].update(highlight=[True]), "one highlight flag"),
])
def test_bad_traces_are_refused(mutate, msg):
    t = _trace()
    mutate(t)
    with pytest.raises(ValueError, match=msg):
        check_trace(t)
