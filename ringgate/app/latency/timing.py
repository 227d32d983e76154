"""One order, cycle by cycle: the simulation's per-cycle trace of one entry as WaveJSON and as a
WaveDrom-style SVG drawn here (no JavaScript, no WaveDrom install: the HTML report embeds it).

A trace (what the co-simulation records, ``sim/cosim/tb_cosim.py``) is plain data::

    {"entry": 300, "period_ns": 4, "start_cycle": 123456,
     "lanes": [{"name": "ring i.valid", "kind": "bit", "values": [0, 1, 0, ...]},
               {"name": "published", "kind": "bus", "values": [299, 299, 300, ...]},
               {"name": "RQ beat", "kind": "label", "values": ["", "hdr data #300", "data", ...]}],
     "marks": [{"cycle": 1, "label": "ring accept"}, ...], "zero": 1, "notes": ["..."]}

``values`` has one item per cycle (sampled just after each rising edge); ``marks`` point at
cycles relative to ``start_cycle``; cycles are numbered from ``zero`` (e.g. the ring accept). A
``label`` lane shows one box per non-empty value (one per beat, even when equal), optionally
``highlight`` ed per cycle. :func:`wavejson` turns a trace into WaveDrom's WaveJSON (paste it into
wavedrom.com/editor.html), :func:`svg` draws the same waves.
"""
from __future__ import annotations

import html
import textwrap

__all__ = ["wavejson", "svg", "check_trace"]

_CELL, _ROW, _NAME, _TOP = 26, 26, 200, 46


def check_trace(trace: dict) -> int:
    """Validate a trace; returns its length in cycles."""
    lanes = trace.get("lanes")
    if not lanes:
        raise ValueError("a trace needs at least one lane")
    n = len(lanes[0]["values"])
    if n == 0:
        raise ValueError("a trace needs at least one cycle")
    for lane in lanes:
        if lane.get("kind") not in ("bit", "bus", "label"):
            raise ValueError(f"lane {lane.get('name')!r}: kind must be bit, bus or label, not {lane.get('kind')!r}")
        if len(lane["values"]) != n:
            raise ValueError(f"lane {lane['name']!r} has {len(lane['values'])} values, the trace {n} cycles")
        if lane["kind"] == "bit" and any(v not in (0, 1, None) for v in lane["values"]):
            raise ValueError(f"lane {lane['name']!r}: bits must be 0, 1 or None")
        if "highlight" in lane and len(lane["highlight"]) != n:
            raise ValueError(f"lane {lane['name']!r}: one highlight flag per cycle")
    for m in trace.get("marks", []):
        if not 0 <= m["cycle"] < n:
            raise ValueError(f"mark {m['label']!r} at cycle {m['cycle']} is outside the trace (0..{n - 1})")
    return n


def _segments(values: list, split: bool = False) -> list[tuple[int, int, object]]:
    """Runs of equal values: (start, length, value); ``split``: every non-empty value its own."""
    out = []
    for i, v in enumerate(values):
        if out and out[-1][2] == v and not (split and v not in (None, "")):
            s, k, _ = out[-1]
            out[-1] = (s, k + 1, v)
        else:
            out.append((i, 1, v))
    return out


def _bus_text(v) -> str:
    return "" if v is None or v == "" else (f"{v}" if not isinstance(v, int) or v < 1 << 16 else f"{v:#x}")


def wavejson(trace: dict) -> dict:
    """WaveDrom's WaveJSON of a trace: bits as 0/1, buses and labels as data segments."""
    n = check_trace(trace)
    signals = [{"name": "clk", "wave": "p" + "." * (n - 1)}]
    for lane in trace["lanes"]:
        wave, data = [], []
        prev = object()
        for v in lane["values"]:
            if lane["kind"] == "bit":
                c = "x" if v is None else str(v)
                wave.append("." if c == prev else c)
                prev = c
            else:
                if v == prev and (lane["kind"] == "bus" or v in (None, "")):
                    wave.append(".")
                elif v is None or v == "":
                    wave.append("x" if lane["kind"] == "bus" else "z")
                else:
                    wave.append("=")
                    data.append(_bus_text(v))
                prev = v
        sig = {"name": lane["name"], "wave": "".join(wave)}
        if data:
            sig["data"] = data
        signals.append(sig)
    zero = trace.get("zero", 0)
    return {"signal": signals,
            "head": {"text": _title(trace), "tick": -zero},
            "foot": {"text": "; ".join(f"{m['label']} @ {m['cycle']}" for m in trace.get("marks", []))},
            "config": {"hscale": 1}}


def _title(trace: dict) -> str:
    zero = trace.get("zero", 0)
    return (f"entry {trace.get('entry', '?')}, one order cycle by cycle ({trace.get('period_ns', 4)} ns per "
            f"cycle; cycle 0 = simulation cycle {trace.get('start_cycle', 0) + zero})")


def svg(trace: dict) -> str:
    """The trace as a WaveDrom-style SVG (clock, bit waves, data segments, marked cycles)."""
    n = check_trace(trace)
    lanes = trace["lanes"]
    marks = trace.get("marks", [])
    zero = trace.get("zero", 0)
    period = trace.get("period_ns", 4)
    width = _NAME + n * _CELL + 20
    notes = [line for note in trace.get("notes", []) for line in textwrap.wrap(note, max(40, int(width / 5.2)))]
    height = _TOP + (len(lanes) + 1) * _ROW + 18 + 14 * len(marks) + 16 * len(notes)
    e = html.escape
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" font-family="Helvetica, Arial, sans-serif" font-size="11">',
           f'<text x="4" y="14" font-weight="bold">{e(_title(trace))}</text>']
    x0 = _NAME
    # cycle grid and numbers (every cycle a faint line, every 5th numbered relative to the start)
    for c in range(n + 1):
        x = x0 + c * _CELL
        out.append(f'<line x1="{x}" y1="{_TOP - 10}" x2="{x}" y2="{_TOP + (len(lanes) + 1) * _ROW}" '
                   f'stroke="#eee"/>')
        if c < n and (c - zero) % 5 == 0:
            out.append(f'<text x="{x + _CELL / 2}" y="{_TOP - 14}" fill="#888" font-size="9" '
                       f'text-anchor="middle">{c - zero}</text>')
    # the clock
    y = _TOP
    out.append(f'<text x="4" y="{y + 15}">clk ({period} ns)</text>')
    pts = []
    for c in range(n):
        x = x0 + c * _CELL
        pts += [f"{x},{y + 18}", f"{x},{y + 4}", f"{x + _CELL / 2},{y + 4}", f"{x + _CELL / 2},{y + 18}"]
    pts.append(f"{x0 + n * _CELL},{y + 18}")
    out.append(f'<polyline points="{" ".join(pts)}" fill="none" stroke="#333"/>')
    for i, lane in enumerate(lanes, 1):
        y = _TOP + i * _ROW
        out.append(f'<text x="4" y="{y + 15}">{e(lane["name"])}</text>')
        if lane["kind"] == "bit":
            pts = []
            for s, k, v in _segments(lane["values"]):
                if v is None:
                    out.append(f'<rect x="{x0 + s * _CELL}" y="{y + 4}" width="{k * _CELL}" height="14" '
                               f'fill="#ddd"/>')
                    continue
                yy = y + 4 if v else y + 18
                pts += [f"{x0 + s * _CELL},{yy}", f"{x0 + (s + k) * _CELL},{yy}"]
            if pts:
                out.append(f'<polyline points="{" ".join(pts)}" fill="none" stroke="#1565c0" stroke-width="1.5"/>')
        else:
            hl = lane.get("highlight") or [False] * n
            for s, k, v in _segments(lane["values"], split=lane["kind"] == "label"):
                xa, xb = x0 + s * _CELL, x0 + (s + k) * _CELL
                if v is None or v == "":
                    out.append(f'<line x1="{xa}" y1="{y + 11}" x2="{xb}" y2="{y + 11}" stroke="#999"/>')
                    continue
                fill = "#fff3c4" if lane["kind"] == "bus" else "#f4a261" if hl[s] else "#d7ecd9"
                out.append(f'<polygon points="{xa},{y + 11} {xa + 3},{y + 4} {xb - 3},{y + 4} {xb},{y + 11} '
                           f'{xb - 3},{y + 18} {xa + 3},{y + 18}" fill="{fill}" stroke="#555"/>')
                text = _bus_text(v)
                room = max(1, int((xb - xa - 6) / 6))
                out.append(f'<text x="{(xa + xb) / 2}" y="{y + 15}" text-anchor="middle" font-size="9">'
                           f'{e(text if len(text) <= room else text[:room - 1] + "…")}</text>')
    bottom = _TOP + (len(lanes) + 1) * _ROW
    for j, m in enumerate(marks):
        x = x0 + m["cycle"] * _CELL + _CELL / 2
        out.append(f'<line x1="{x}" y1="{_TOP - 6}" x2="{x}" y2="{bottom + 4 + 14 * j}" stroke="#c0392b" '
                   f'stroke-dasharray="3,2"/>')
        text = f"{m['label']} (cycle {m['cycle'] - zero}, {(m['cycle'] - zero) * period} ns)"
        left = x > width - 7 * len(text)            # near the right edge: the text goes left of the line
        out.append(f'<text x="{x - 3 if left else x + 3}" y="{bottom + 14 + 14 * j}" fill="#c0392b" '
                   f'font-size="10" text-anchor="{"end" if left else "start"}">{e(text)}</text>')
    y = bottom + 18 + 14 * len(marks)
    for note in notes:
        out.append(f'<text x="4" y="{y}" fill="#555" font-size="9">{e(note)}</text>')
        y += 16
    out.append("</svg>")
    return "".join(out)
