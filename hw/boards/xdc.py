"""The board's XDC constraints: written from the board definition and the elaborated top, and
checked against the synthesised netlist.

:func:`board_xdc` writes, for a prepared platform: the configuration and bitstream settings,
every pin with its IOSTANDARD and attributes (each resource preceded by the published source
of its pins), ``create_clock`` for every reference clock, the exceptions of the board's
asynchronous I/O, and the clock-domain-crossing constraints of the synchronisers the top
contains. ``constraints/<board>.xdc`` is its output for the lanes every link uses, and
``constraints/<board>_x16.xdc`` the pins of lanes 8-15.

:func:`check` is the independent check (a test runs it on every board): it reads the XDC (the
subset of Tcl these files use) and the yosys netlist of the top and reports every top-level
port without a pin or an IOSTANDARD (transceiver pins excepted: those the netlist connects
straight to an IP's serial or reference-clock port or to an ``IBUFDS_GTE4``), every reference
clock without a ``create_clock`` of its period, every object query that matches nothing in the
netlist, every pin used twice, and every clock-domain crossing of the netlist that no
constraint covers.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from amaranth.build import Subsignal

from .netlist import Crossing, Netlist, glob_match

__all__ = ["board_xdc", "check", "parse", "Command", "XdcError", "GT_RESOURCES", "SPLIT_RESOURCES"]

# resources whose pins are transceiver pins (placed with the IP's GT; no IOSTANDARD)
GT_RESOURCES = frozenset({"pcie_refclk", "pcie_lanes", "qsfp_refclk", "qsfp_lane"})
# (resource, number) written to the x16 file: the lanes only a x16 link uses
SPLIT_RESOURCES = frozenset({("pcie_lanes", 1)})

_PORT_RE = re.compile(r"^(?P<res>[a-z0-9_]+?)_(?P<num>\d+)__")


def _resource_of(port: str) -> tuple[str, int]:
    m = _PORT_RE.match(port)
    if not m:
        raise ValueError(f"port {port!r} does not come from a platform resource")
    return m["res"], int(m["num"])


def _index(port: str) -> int:
    """Bit index of a port bit name (``x[3]`` -> 3, ``x`` -> 0)."""
    m = re.search(r"\[(\d+)\]$", port)
    return int(m.group(1)) if m else 0


def _period(hz: float) -> str:
    return f"{1e9 / hz:.3f}"


def board_xdc(platform, *, x16_part: bool = False) -> str:
    """The XDC of a prepared ``platform`` (``platform.prepare`` has run on the top);
    ``x16_part``: only the pins of the lanes a x16 link adds."""
    b = platform
    ports = [(name, pin, dict(attrs)) for name, pin, attrs in platform.iter_port_constraints_bits()]
    by_res: dict[tuple[str, int], list] = {}
    for name, pin, attrs in ports:
        by_res.setdefault(_resource_of(name), []).append((name, pin, attrs))
    order = list(b.resources)          # (name, number), in the board definition's order
    keys = [k for k in order if k in by_res and ((k in SPLIT_RESOURCES) == x16_part)]

    out = [f"# {b.title} ({b.part}): {'PCIe lanes 8-15 of a x16 link' if x16_part else 'ringgate board constraints'}",
           f"# Written by ringgate.hw.boards.xdc from the board definition ringgate.hw.boards.{b.name}:",
           "# edit that, then `ringgate constraints` (a test fails while this file differs from it).",
           "# Port names are the top's (Amaranth: <resource>_<number>__<subsignal>__<p|n|io>).", ""]
    if not x16_part:
        out += ["# Configuration and bitstream"]
        out += [f"set_property {p} {v} [current_design] ;# {src}" for p, v, src in b.bitstream]
        if b.power_budget is not None:
            out.append(f"set_operating_conditions -design_power_budget {b.power_budget}")
        out.append("")
    clocks = {port.name: freq for port, freq in platform.iter_port_clock_constraints()}
    for res, num in keys:
        out.append(f"# {res} {num}: {b.sources[res]}")
        # lane by lane (a lane's rx and tx pairs together), as schematics list them
        by_res[(res, num)].sort(key=lambda port: _index(port[0]))
        for name, pin, attrs in by_res[(res, num)]:
            props = " ".join(f"{k} {v}" for k, v in {"PACKAGE_PIN": pin, **attrs}.items())
            out.append(f"set_property -dict {{{props}}} [get_ports {{{name}}}]")
        for name, *_ in by_res[(res, num)]:
            if name in clocks:
                out.append(f"create_clock -period {_period(clocks[name])} -name {res} [get_ports {{{name}}}]")
        out.append("")
    if x16_part:
        return "\n".join(out)

    inputs, outputs = [], []
    for res, num in keys:
        if res in GT_RESOURCES or platform.lookup(res, num).clock is not None:
            continue
        for name, pin, attrs in by_res[(res, num)]:
            if name not in clocks:
                (outputs if _pin_dir(platform, name) == "o" else inputs).append(name)
    out.append("# Board I/O is asynchronous to every clock of the design (resets, status, LEDs)")
    for name in inputs:
        out += [f"set_input_delay 0 [get_ports {{{name}}}]", f"set_false_path -from [get_ports {{{name}}}]"]
    for name in outputs:
        out += [f"set_output_delay 0 [get_ports {{{name}}}]", f"set_false_path -to [get_ports {{{name}}}]"]
    out.append("")
    out += _cdc(platform)
    return "\n".join(out)


def _pin_dir(platform, port: str) -> str:
    """The direction (``i``/``o``/``io``) the resource declares for a port's pins."""
    ios = platform.lookup(*_resource_of(port)).ios
    for sub in port.partition("[")[0].split("__")[1:-1]:
        ios = next(s for s in ios if isinstance(s, Subsignal) and s.name == sub).ios
    return ios[0].dir


def _cdc(platform) -> list[str]:
    out = ["# Clock-domain crossings: the synchronisers of the design (amaranth.lib.cdc, lowered by",
           "# the board platform, which tags their stages with these properties)."]
    kinds = platform.synchronisers()
    if kinds.get("async_ff"):
        out += ["# Reset synchronisers (asserted asynchronously on PRE, released through two stages):",
                "set_false_path -to [get_pins -of_objects [get_cells -hierarchical -filter "
                "{amaranth.vivado.false_path_pre == \"TRUE\"}] -filter {REF_PIN_NAME == PRE}]"]
    if kinds.get("ff"):
        out += ["# Level synchronisers: the first stage samples a signal of another domain",
                "set_false_path -to [get_cells -hierarchical -filter {amaranth.vivado.false_path == \"TRUE\"}]"]
    return out + [""]


# -- reading XDC ------------------------------------------------------------------------------

class XdcError(ValueError):
    """A line of the XDC the checker cannot read (it reads the subset these files use)."""


@dataclass
class Command:
    line: int
    words: list


def _words(text: str, line: int) -> list:
    """Tcl words: ``{...}`` literal, ``[...]`` a nested command (parsed), else bare."""
    words, i = [], 0
    while i < len(text):
        ch = text[i]
        if ch.isspace():
            i += 1
            continue
        if ch in "{[":
            close = "}" if ch == "{" else "]"
            depth, j = 0, i
            while j < len(text):
                if text[j] == ch:
                    depth += 1
                elif text[j] == close:
                    depth -= 1
                    if depth == 0:
                        break
                j += 1
            if j == len(text):
                raise XdcError(f"line {line}: unbalanced {ch}")
            inner = text[i + 1:j]
            words.append(inner if ch == "{" else Command(line, _words(inner, line)))
            i = j + 1
        else:
            j = i
            while j < len(text) and not text[j].isspace():
                j += 1
            words.append(text[i:j])
            i = j
    return words


def parse(text: str) -> list[Command]:
    """Commands of an XDC file (comments, ``;#`` trailers and blank lines dropped)."""
    cmds = []
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.split(";#")[0].strip()
        if not line or line.startswith("#"):
            continue
        cmds.append(Command(n, _words(line, n)))
    return cmds


def _options(words: list, flags: set[str], valued: set[str]) -> tuple[dict, list]:
    opts, rest, i = {}, [], 0
    while i < len(words):
        w = words[i]
        if isinstance(w, str) and w in flags:
            opts[w] = True
        elif isinstance(w, str) and w in valued:
            opts[w] = words[i + 1]
            i += 1
        else:
            rest.append(w)
        i += 1
    return opts, rest


_FILTER_TERM = re.compile(r'^\s*([\w.]+)\s*(==|!=)\s*"?([^"]*?)"?\s*$')


def _filter(expr: str, props: dict) -> bool:
    for term in expr.split("&&"):
        m = _FILTER_TERM.match(term)
        if not m:
            raise XdcError(f"filter term {term!r} is not PROPERTY ==/!= VALUE")
        key, op, value = m.groups()
        have = str(props.get(key, ""))
        if (have == value) != (op == "=="):
            return False
    return True


@dataclass
class _Objects:
    kind: str                      # port, cell, pin, clock, design
    items: set = field(default_factory=set)


class _Context:
    """Objects of the netlist as the XDC's queries see them."""

    def __init__(self, net: Netlist):
        self.net = net
        self.port_bits = set()
        for name, p in net.ports.items():
            n = len(p["bits"])
            self.port_bits |= {f"{name}[{i}]" if n > 1 else name for i in range(n)}
        self.cell_names: dict[str, list[str]] = {c: net.vivado_cell_names(c) for c in net.cells}
        self.clocks: dict[str, float] = {}
        self.clock_ports: dict[str, str] = {}
        self.io_delays: set[str] = set()

    def query(self, cmd: Command) -> _Objects:
        name, *args = cmd.words
        if name == "current_design":
            return _Objects("design", {"design"})
        if name == "get_ports":
            found = set()
            for pat in _patterns(args):
                hit = {p for p in self.port_bits if glob_match(pat, p) or glob_match(pat, p.partition("[")[0])}
                if not hit:
                    raise XdcError(f"line {cmd.line}: get_ports {pat} matches no port of the top")
                found |= {p for p in self.port_bits if p in hit or p.partition("[")[0] in hit}
            return _Objects("port", found)
        if name == "get_cells":
            opts, rest = _options(args, {"-hierarchical", "-hier"}, {"-filter"})
            cells = set()
            pats = _patterns(rest) or (["*"] if "-filter" in opts else [])
            for c, names in self.cell_names.items():
                if any(glob_match(p, n) or ("-hierarchical" in opts or "-hier" in opts) and glob_match(p, n.rsplit("/", 1)[-1])
                       for p in pats for n in names):
                    if "-filter" not in opts or _filter(opts["-filter"], {**self.net.attributes(c), "REF_NAME": self.net.type(c)}):
                        cells.add(c)
            if not cells:
                raise XdcError(f"line {cmd.line}: get_cells {' '.join(map(str, args))} matches no cell of the netlist")
            return _Objects("cell", cells)
        if name == "get_pins":
            opts, rest = _options(args, {"-hierarchical", "-hier"}, {"-filter", "-of_objects"})
            pins = set()
            if "-of_objects" in opts:
                cells = self.query(opts["-of_objects"]).items
                for c in cells:
                    for pin in self.net.cells[c]["connections"]:
                        if "-filter" not in opts or _filter(opts["-filter"], {"REF_PIN_NAME": pin}):
                            pins.add((c, pin))
            for pat in _patterns(rest):
                cell_pat, _, pin_pat = pat.rpartition("/")
                for c, names in self.cell_names.items():
                    if any(glob_match(cell_pat, n) for n in names):
                        pins |= {(c, p) for p in self.net.cells[c]["connections"] if glob_match(pin_pat, p)}
            if not pins:
                raise XdcError(f"line {cmd.line}: get_pins {' '.join(map(str, args))} matches no pin of the netlist")
            return _Objects("pin", pins)
        if name == "get_clocks":
            found = {c for c in self.clocks for p in _patterns(args) if glob_match(p, c)}
            if not found:
                raise XdcError(f"line {cmd.line}: get_clocks {' '.join(map(str, args))} matches no clock")
            return _Objects("clock", found)
        raise XdcError(f"line {cmd.line}: unsupported query {name}")


def _patterns(args) -> list[str]:
    out = []
    for a in args:
        if isinstance(a, Command):
            raise XdcError(f"line {a.line}: a nested query where a name pattern belongs")
        out += a.split()
    return out


@dataclass
class _Exception:
    """A timing exception: the objects it starts from and ends at (None: any)."""
    command: str
    line: int
    frm: _Objects | None
    to: _Objects | None


def _read(text: str, ctx: _Context, report: list[str]):
    pins: dict[str, dict] = {}
    exceptions: list[_Exception] = []
    for cmd in parse(text):
        name, *args = cmd.words
        try:
            if name == "set_property":
                if args[0] == "-dict":
                    props = dict(zip(*[iter(args[1].split())] * 2))
                    target = ctx.query(args[2])
                else:
                    props = {args[0]: args[1]}
                    target = ctx.query(args[2])
                if target.kind == "port":
                    for p in target.items:
                        pins.setdefault(p, {}).update(props)
            elif name == "create_clock":
                opts, rest = _options(args, set(), {"-period", "-name", "-waveform"})
                target = ctx.query(rest[0])
                cname = opts.get("-name") or sorted(target.items)[0]
                ctx.clocks[cname] = float(opts["-period"])
                for p in target.items:
                    ctx.clock_ports[p] = cname
            elif name in ("set_false_path", "set_max_delay", "set_min_delay", "set_bus_skew"):
                opts, rest = _options(args, {"-datapath_only", "-setup", "-hold"},
                                      {"-from", "-to", "-through"})
                frm = ctx.query(opts["-from"]) if "-from" in opts else None
                to = ctx.query(opts["-to"]) if "-to" in opts else None
                if frm is None and to is None:
                    raise XdcError(f"line {cmd.line}: {name} without -from or -to")
                if "-datapath_only" in opts and frm is None:
                    raise XdcError(f"line {cmd.line}: {name} -datapath_only needs -from")
                if name != "set_bus_skew":
                    exceptions.append(_Exception(name, cmd.line, frm, to))
            elif name in ("set_input_delay", "set_output_delay"):
                opts, rest = _options(args, {"-max", "-min", "-add_delay"}, {"-clock"})
                ctx.io_delays |= ctx.query(rest[-1]).items
            elif name == "set_operating_conditions":
                pass
            else:
                raise XdcError(f"line {cmd.line}: unsupported command {name}")
        except XdcError as e:
            report.append(str(e))
        except (IndexError, KeyError) as e:
            report.append(f"line {cmd.line}: malformed {name} ({e})")
    return pins, exceptions


def _gt_ports(net: Netlist) -> set[str]:
    """Top-level port bits wired straight to a transceiver: an IP's serial or reference-clock
    port, or an ``IBUFDS_GTE4`` input."""
    out = set()
    for name, p in net.ports.items():
        n = len(p["bits"])
        for i, b in enumerate(p["bits"]):
            users = net.sinks.get(b, []) + ([net.driver[b]] if b in net.driver and net.driver[b][0] != "$port" else [])
            for cell, pin in users:
                if cell == "$port":
                    continue
                t = net.type(cell)
                if t == "IBUFDS_GTE4" and pin in ("I", "IB"):
                    out.add(f"{name}[{i}]" if n > 1 else name)
                elif cell in net.blackboxes:
                    ports, _ = net.blackboxes[cell]
                    port = ports.get(pin.partition("[")[0])
                    if port is not None and port.domain in ("serial", "clock"):
                        out.add(f"{name}[{i}]" if n > 1 else name)
    return out


def _covered(x: Crossing, exceptions: list[_Exception], net: Netlist) -> bool:
    for e in exceptions:
        to_ok = e.to is None or (
            (x.kind == "output" and e.to.kind == "port" and x.pin in e.to.items)
            or (e.to.kind == "cell" and x.cell in e.to.items)
            or (e.to.kind == "pin" and (x.cell, x.pin.partition("[")[0]) in {(c, p.partition("[")[0]) for c, p in e.to.items}))
        if not to_ok:
            continue
        if e.frm is None:
            return True
        # -from: every foreign source must be one of the start points
        ok = True
        for dom, desc in x.sources:
            if e.frm.kind == "port" and desc.startswith("input "):
                ok &= desc[len("input "):] in e.frm.items
            elif e.frm.kind == "cell":
                ok &= any(desc.endswith(" " + c) for c in e.frm.items)
            else:
                ok = False
        if ok:
            return True
    return False


def check(xdc_texts: list[str], net: Netlist, *, clock_names: dict[str, str],
          reference_clocks: dict[str, float]) -> list[str]:
    """Problems of ``xdc_texts`` (read in order) against the netlist; empty when all is well.

    ``clock_names``: the netlist's clock net names -> domain (``{"clk": "sync", ...}``);
    ``reference_clocks``: top-level clock port -> frequency in Hz."""
    report: list[str] = []
    ctx = _Context(net)
    pins, exceptions = {}, []
    for text in xdc_texts:
        p, e = _read(text, ctx, report)
        for k, v in p.items():
            pins.setdefault(k, {}).update(v)
        exceptions += e

    gt = _gt_ports(net)
    used: dict[str, str] = {}
    for port in sorted(ctx.port_bits):
        props = pins.get(port, {})
        loc = props.get("PACKAGE_PIN") or props.get("LOC")
        if not loc:
            report.append(f"port {port} has no PACKAGE_PIN")
            continue
        if loc in used:
            report.append(f"ports {used[loc]} and {port} are both on pin {loc}")
        used[loc] = port
        if port not in gt and "IOSTANDARD" not in props:
            report.append(f"port {port} has no IOSTANDARD (and is not a transceiver pin)")
        if port in gt and "IOSTANDARD" in props:
            report.append(f"transceiver pin {port} must not have an IOSTANDARD")

    for port, hz in reference_clocks.items():
        if port not in ctx.clock_ports:
            report.append(f"reference clock {port} has no create_clock")
            continue
        period = ctx.clocks[ctx.clock_ports[port]]
        if abs(period - 1e9 / hz) > 0.0005:
            report.append(f"reference clock {port}: create_clock -period {period} but {hz / 1e6:g} MHz "
                          f"is {1e9 / hz:.4f} ns")
    for port in ctx.clock_ports:
        if port not in reference_clocks:
            report.append(f"create_clock on {port}, which is not a reference clock of the board")

    # A board input (not a clock, not a transceiver pin) is asynchronous: it needs a false path
    # from it, or an input delay saying how it is timed.
    pair = lambda port: re.sub(r"__[pn]$", "", port)      # noqa: E731 (both legs of a clock)
    clock_pins = {p for p in ctx.port_bits if pair(p) in {pair(c) for c in reference_clocks}}
    cut = {p for e in exceptions if e.frm is not None and e.frm.kind == "port" for p in e.frm.items}
    for name, p in net.ports.items():
        if p["direction"] != "input":
            continue
        for i in range(len(p["bits"])):
            port = f"{name}[{i}]" if len(p["bits"]) > 1 else name
            if port not in gt and port not in clock_pins and port not in cut and port not in ctx.io_delays:
                report.append(f"board input {port} has neither a false path from it nor an input delay")

    for x in net.crossings(clock_names):
        if not _covered(x, exceptions, net):
            where = x.pin if x.kind == "output" else f"{'/'.join(net.vivado_cell_names(x.cell)[:1]) or x.cell}/{x.pin}"
            srcs = ", ".join(f"{d}: {s}" for d, s in x.sources[:3])
            report.append(f"unconstrained crossing into {x.kind} {where} ({x.domain}) from {srcs}")
    return report
