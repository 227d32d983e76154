"""The JSON schema of ``report.json`` (``ringgate run``, ``ringgate throughput``): one definition,
from which the docs table is generated (docs/latency.md, checked by a test) and against which
every report the tests write is validated. ``ringgate report schema`` prints it.

Versions: 1 (no ``schema`` field): meta, clock_mhz, stages, throughput, seed_latency_table_ns.
2: adds ``schema``/``schema_version``, ``config`` (the stimulus, for comparing runs), ``end_to_end``,
``budget``, ``host``, ``timing``; stage kinds gain ``measured``. Readers accept both
(:func:`ringgate.app.report.load_report`); a new field is a minor change, a changed meaning a new
version.
"""
from __future__ import annotations

__all__ = ["SCHEMA_NAME", "SCHEMA_VERSION", "SCHEMA", "field_table"]

SCHEMA_NAME = "ringgate.latency-report"
SCHEMA_VERSION = 2

_NUM = {"type": "number"}
_PAIR = {"type": "array", "items": _NUM, "minItems": 2, "maxItems": 2}
_KIND = {"enum": ["exact", "modelled", "projected", "measured", "wall clock"]}

_STAGE = {
    "type": "object",
    "description": "one stage: percentiles of its per-entry samples (observed values)",
    "required": ["name", "kind", "unit", "source", "count", "min_ns", "p50_ns", "p99_ns", "p99.9_ns", "max_ns",
                 "mean_ns"],
    "properties": {
        "name": {"type": "string"}, "kind": _KIND, "unit": {"enum": ["cycles", "ns"]},
        "source": {"type": "string", "description": "how the samples were obtained"},
        "count": {"type": "integer", "minimum": 1},
        **{f"{p}_ns": _NUM for p in ("min", "p50", "p99", "p99.9", "max", "mean")},
        **{f"{p}_cycles": _NUM for p in ("min", "p50", "p99", "p99.9", "max")},
        "runs": {"type": "array", "description": "per repeated run: the same percentiles (measured stages)",
                 "items": {"type": "object"}},
    },
}

_SEGMENT = {
    "type": "object",
    "required": ["name", "kind", "how"],
    "properties": {
        "name": {"type": "string"},
        "kind": {"enum": ["exact", "modelled", "projected", "measured", "gap"]},
        "how": {"type": "string"}, "count": {"type": "integer"},
        "p50_ns": _NUM, "p99_ns": _NUM, "p50_cycles": _NUM, "p99_cycles": _NUM,
        "range_ns": _PAIR, "typical_ns": _NUM, "sources": {"type": "array", "items": {"type": "string"}},
    },
}

_TOTAL = {
    "type": "object",
    "required": ["name", "segments", "p50_ns", "p99_ns", "kinds"],
    "properties": {
        "name": {"type": "string"}, "segments": {"type": "integer", "minimum": 1},
        "p50_ns": _PAIR, "p99_ns": _PAIR, "p99.9_ns": _PAIR,
        "kinds": {"type": "array", "items": {"type": "string"}},
        "goal_ns": {"type": "object"}, "meets_goal": {"type": "boolean"},
    },
}

SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": f"https://ringgate.invalid/schemas/{SCHEMA_NAME}-{SCHEMA_VERSION}.json",
    "title": "ringgate latency report",
    "type": "object",
    "required": ["schema", "schema_version", "meta", "clock_mhz", "stages", "throughput", "seed_latency_table_ns"],
    "properties": {
        "schema": {"const": SCHEMA_NAME, "description": "always \"ringgate.latency-report\""},
        "schema_version": {"const": SCHEMA_VERSION, "description": "this document's version"},
        "meta": {"type": "object", "description": "title, commit, machine and load, what ran, the checks passed "
                                                  "(strings, for people)"},
        "config": {"type": "object", "description": "the stimulus and design parameters (machine-readable); "
                                                    "exact stages are comparable only between equal configs"},
        "clock_mhz": {"type": "number", "exclusiveMinimum": 0, "description": "clock of the cycle counts"},
        "stages": {"type": "array", "items": _STAGE, "description": "per-stage percentiles, in order"},
        "end_to_end": {"type": ["string", "null"], "description": "the stage compared with the note's table"},
        "throughput": {"type": "object", "description": "throughput figures (strings)"},
        "budget": {
            "type": ["object", "null"],
            "description": "first byte on the wire (or ring accept) to the WebSocket frame: segments and totals",
            "required": ["start", "method", "segments", "totals"],
            "properties": {"start": {"type": "string"}, "method": {"type": "string"},
                           "segments": {"type": "array", "items": _SEGMENT},
                           "totals": {"type": "array", "items": _TOTAL},
                           "notes": {"type": "array", "items": {"type": "string"}}},
        },
        "host": {
            "type": ["object", "null"],
            "description": "the real-time host measurement (ringgate latency): configuration, machine load, "
                           "per poll mode the stages and CPU time per entry",
            "required": ["config", "machine", "modes"],
            "properties": {"config": {"type": "object"}, "machine": {"type": "object"},
                           "modes": {"type": "array", "items": {
                               "type": "object", "required": ["poll", "stages", "cpu_us_per_entry"],
                               "properties": {"poll": {"type": "string"},
                                              "stages": {"type": "array", "items": _STAGE},
                                              "cpu_us_per_entry": _NUM}}}},
        },
        "timing": {
            "type": ["object", "null"],
            "description": "one order cycle by cycle: the simulation's trace and its WaveJSON",
            "required": ["trace", "wavejson"],
            "properties": {"trace": {"type": "object", "required": ["lanes"]},
                           "wavejson": {"type": "object", "required": ["signal"]}},
        },
        "seed_latency_table_ns": {
            "type": "array", "description": "the technology-selection note's §6.0 bands (ns, one way)",
            "items": {"type": "object", "required": ["path", "typical", "best", "bottleneck"],
                      "properties": {"path": {"type": "string"}, "typical": _PAIR, "best": _PAIR,
                                     "bottleneck": {"type": "string"}}},
        },
    },
}


def field_table() -> str:
    """The top-level fields of report.json as a markdown table (docs/latency.md)."""
    req = set(SCHEMA["required"])
    lines = ["| field | type | required | meaning |", "|---|---|---|---|"]
    for name, spec in SCHEMA["properties"].items():
        t = spec.get("type")
        if "const" in spec:
            t = "const"
        t = " or ".join(t) if isinstance(t, list) else t
        lines.append(f"| `{name}` | {t} | {'yes' if name in req else 'no'} | {spec.get('description', '')} |")
    return "\n".join(lines)
