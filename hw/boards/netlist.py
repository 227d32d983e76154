"""A yosys JSON netlist (``synth_xilinx``, flattened) read as a graph: who drives what, which clock
domain each register is in, and where signals cross from one domain to another.

This is what the checks that run without Vivado see: the complete board top mapped to
UltraScale+ cells, the IPs as black boxes. Names follow Vivado's: a hierarchical cell ``a.b.c``
is ``a/b/c``; a register ``reg`` of ``a.b`` is ``a/b/reg_reg`` (bit ``i``: ``a/b/reg_reg[i]``).

Domains: every flip-flop and block RAM port is clocked by a net; the top names each domain's
clock ``clk`` (``sync``) or ``<domain>_clk``. A data source is a register (its domain), a
black-box output (the domain its port table gives), a top-level input (asynchronous: it comes
from the board), or a constant. A *crossing* is a register input, an asynchronous set/reset
pin, a black-box input or a top-level output whose combinational fan-in has a source of
another domain, or an asynchronous one.
"""
from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field

__all__ = ["Netlist", "Crossing", "ASYNC", "vivado_name", "register_names"]

ASYNC = "async"

_COMB = ("LUT", "INV", "MUXF", "CARRY")
# pass-through primitives: a clock or signal crosses them unchanged in domain terms
_BUFFERS = {"BUFG", "BUFGCE", "BUFG_GT", "BUFGCE_DIV", "IBUF", "IBUFDS", "OBUF", "OBUFT", "OBUFDS"}
_FF_CLOCK = "C"
_FF_ASYNC_PINS = {"PRE", "CLR"}
_RAM_CLOCKS = {"CLKARDCLK", "CLKBWRCLK", "CLK", "WCLK", "CLKA", "CLKB"}


def vivado_name(path: str) -> str:
    """A yosys hierarchical name (``a.b.c``) as Vivado writes it (``a/b/c``)."""
    return path.replace(".", "/")


_SRC_END = re.compile(r":(\d+)\.\d+-(\d+)\.\d+$")
_ASSIGNED = re.compile(r"^\s*(\\\S+|[A-Za-z_][\w$]*)\s*(?:\[[^]]*\])?\s*<=")


def register_names(elaborated: dict, verilog: str, top: str) -> dict[str, str]:
    """Vivado's name of every register bit, for each name the bit's net has.

    ``elaborated``: yosys JSON of ``verilog`` after ``hierarchy; proc; flatten`` (before any
    optimisation merges nets and drops all but one of their names). A register is named after
    the ``reg`` its ``always`` block assigns, in the module that declares it: the ``$dff`` cell's
    source line gives the ``reg``, the cell's flattened name gives the module's instance path."""
    mod = elaborated["modules"][top]
    lines = verilog.splitlines()
    aliases: dict[int, list[str]] = defaultdict(list)
    wires = {}
    for n, info in mod["netnames"].items():
        wires[n] = info["bits"]
        if n.startswith("$"):
            continue
        for i, b in enumerate(info["bits"]):
            if isinstance(b, int):
                aliases[b].append(_bit(n, i, len(info["bits"])))
    out = {}
    for cname, c in mod["cells"].items():
        if "dff" not in c["type"] or "Q" not in c["connections"]:
            continue
        m = _SRC_END.search(c.get("attributes", {}).get("src", "").split("|")[0])
        assigned = _ASSIGNED.match(lines[int(m.group(2)) - 1]) if m and int(m.group(2)) <= len(lines) else None
        if assigned is None:
            continue
        reg = assigned.group(1).lstrip("\\").rstrip()
        scope = cname.removeprefix("$flatten\\").rpartition(".$")[0] if ".$" in cname else ""
        full = f"{scope}.{reg}" if scope else reg
        bits = wires.get(full)
        if bits is None:
            continue
        path = vivado_name(scope) + "/" if scope else ""
        for b in c["connections"]["Q"]:
            if isinstance(b, int) and b in bits:
                i = bits.index(b)
                name = f"{path}{reg}_reg" + (f"[{i}]" if len(bits) > 1 else "")
                for alias in aliases[b]:
                    out[alias] = name
    return out


@dataclass(frozen=True)
class Crossing:
    """A pin whose fan-in reaches it from another clock domain (or asynchronously).

    Members
    -------
    kind : ``"ff"`` (a register's data/enable/sync reset), ``"ff_async"`` (PRE/CLR),
        ``"ram"``, ``"blackbox"``, ``"output"``.
    cell : netlist cell name (``"$port"`` for a top-level output).
    pin : pin name (the port name for an output).
    domain : the endpoint's domain (``async`` for outputs and set/reset pins).
    sources : ``(domain, description)`` of the fan-in sources from another domain.
    """
    kind: str
    cell: str
    pin: str
    domain: str
    sources: tuple[tuple[str, str], ...]


@dataclass
class Netlist:
    """The graph of one flattened module of a yosys JSON netlist.

    ``blackboxes``: instance name -> (port table, {IP clock name: domain}) for black boxes whose
    port domains are known (:class:`ringgate.hw.boards.top.BlackBox`).
    """
    json: dict
    top: str
    blackboxes: dict = field(default_factory=dict)
    registers: dict = field(default_factory=dict)     # net name -> Vivado register name (register_names)

    def __post_init__(self):
        mod = self.json["modules"][self.top]
        self.cells: dict = mod["cells"]
        self.ports: dict = mod["ports"]
        self.driver: dict[int, tuple[str, str]] = {}
        self.sinks: dict[int, list[tuple[str, str]]] = defaultdict(list)
        for name, p in self.ports.items():
            for i, b in enumerate(p["bits"]):
                if isinstance(b, int):
                    if p["direction"] == "input":
                        self.driver[b] = ("$port", _bit(name, i, len(p["bits"])))
                    else:
                        self.sinks[b].append(("$port", _bit(name, i, len(p["bits"]))))
        for name, c in self.cells.items():
            dirs = c.get("port_directions", {})
            for pin, bits in c["connections"].items():
                for i, b in enumerate(bits):
                    if not isinstance(b, int):
                        continue
                    if dirs.get(pin) == "output":
                        self.driver[b] = (name, _bit(pin, i, len(bits)))
                    else:
                        self.sinks[b].append((name, _bit(pin, i, len(bits))))
        self.names: dict[int, list[str]] = defaultdict(list)
        self.net_attrs: dict[int, dict] = defaultdict(dict)
        for n, info in mod.get("netnames", {}).items():
            for i, b in enumerate(info["bits"]):
                if isinstance(b, int):
                    self.names[b].append(_bit(n, i, len(info["bits"])) if not n.startswith("$") else n)
                    if not n.startswith("$"):
                        self.net_attrs[b].update(info.get("attributes", {}))
        self._domain_cache: dict[int, str | None] = {}

    # -- cells -----------------------------------------------------------------------------

    def type(self, cell: str) -> str:
        return self.cells[cell]["type"]

    def is_comb(self, cell: str) -> bool:
        return self.type(cell).startswith(_COMB)

    def is_ff(self, cell: str) -> bool:
        return self.type(cell).startswith("FD")

    def is_ram(self, cell: str) -> bool:
        return self.type(cell).startswith(("RAMB", "RAM32", "RAM64", "RAM128", "RAM256", "RAMS", "RAMD", "URAM"))

    def pins(self, cell: str, direction: str):
        c = self.cells[cell]
        for pin, bits in c["connections"].items():
            if c.get("port_directions", {}).get(pin) == direction:
                yield pin, bits

    def attributes(self, cell: str) -> dict:
        """Cell attributes, and for a register the attributes of the signal it holds (the RTL
        puts ``ASYNC_REG`` and Amaranth's ``amaranth.vivado.*`` on the register's wire)."""
        attrs = dict(self.cells[cell].get("attributes", {}))
        if self.is_ff(cell):
            for b in self.cells[cell]["connections"].get("Q", []):
                if isinstance(b, int):
                    attrs.update(self.net_attrs.get(b, {}))
        return attrs

    def vivado_cell_names(self, cell: str) -> list[str]:
        """The names Vivado gives this cell: a named instance keeps its path; an inferred
        register is ``<path>/<signal>_reg[<bit>]`` for each signal its output carries."""
        if not cell.startswith("$"):
            return [vivado_name(cell)]
        out = []
        if self.is_ff(cell):
            for b in self.cells[cell]["connections"].get("Q", []):
                for n in self.names.get(b, []):
                    if n in self.registers:
                        out.append(self.registers[n])
                    elif not self.registers and not n.startswith("$"):
                        # without the elaborated names: every name the net kept (may miss
                        # the declaring module's, when synthesis kept an alias)
                        base, _, idx = n.partition("[")
                        out.append(vivado_name(base) + "_reg" + (f"[{idx}" if idx else ""))
        return sorted(set(out))

    # -- clocks and domains ----------------------------------------------------------------

    def clock_bit(self, cell: str) -> int | None:
        conns = self.cells[cell]["connections"]
        for pin in (_FF_CLOCK, *sorted(_RAM_CLOCKS)):
            bits = conns.get(pin)
            if bits and isinstance(bits[0], int):
                return bits[0]
        return None

    def clock_domain(self, bit: int, clock_names: dict[str, str]) -> str | None:
        """The domain of a clock net: the first of its names (or of the nets it is buffered
        from) that ``clock_names`` knows."""
        seen = set()
        while bit is not None and bit not in seen:
            seen.add(bit)
            for n in self.names.get(bit, []):
                if n in clock_names:
                    return clock_names[n]
            drv = self.driver.get(bit)
            if drv is None or drv[0] == "$port" or self.type(drv[0]) not in _BUFFERS:
                return None
            ins = [b for pin, bits in self.pins(drv[0], "input") if pin in ("I", "I0")
                   for b in bits if isinstance(b, int)]
            bit = ins[0] if ins else None
        return None

    def domains(self, clock_names: dict[str, str]) -> dict[str, str | None]:
        """Domain of every register and RAM (None: a clock the map does not know)."""
        return {c: self.clock_domain(self.clock_bit(c), clock_names) if self.clock_bit(c) is not None else None
                for c in self.cells if self.is_ff(c) or self.is_ram(c)}

    def source_domain(self, bit: int, cell_domain: dict[str, str | None]) -> tuple[str, str] | None:
        """(domain, description) of what drives a non-combinational net; None for constants."""
        drv = self.driver.get(bit)
        if drv is None:
            return None
        cell, pin = drv
        if cell == "$port":
            return ASYNC, f"input {pin}"
        t = self.type(cell)
        if t in _BUFFERS:
            ins = [b for p, bits in self.pins(cell, "input") if p in ("I", "I0") for b in bits]
            return self.source_domain(ins[0], cell_domain) if ins and isinstance(ins[0], int) else None
        if cell in cell_domain:
            return cell_domain[cell] or "unknown", f"{t} {cell}"
        if cell in self.blackboxes:
            ports, dmap = self.blackboxes[cell]
            port = ports.get(pin.partition("[")[0])
            dom = port.domain if port else ASYNC
            if dom == "serial":         # a transceiver's line: not a timing path
                return None
            return dmap.get(dom, ASYNC if dom in (ASYNC, "clock") else dom), f"{cell}.{pin}"
        return ASYNC, f"{t} {cell}.{pin}"

    def fanin(self, bit: int) -> set[int]:
        """The non-combinational nets feeding ``bit`` through combinational cells."""
        out, stack, seen = set(), [bit], set()
        while stack:
            b = stack.pop()
            if b in seen:
                continue
            seen.add(b)
            drv = self.driver.get(b)
            if drv is not None and drv[0] != "$port" and self.is_comb(drv[0]):
                stack.extend(x for _, bits in self.pins(drv[0], "input") for x in bits if isinstance(x, int))
            else:
                out.add(b)
        return out

    def crossings(self, clock_names: dict[str, str]) -> list[Crossing]:
        """Every endpoint reached from another domain, or asynchronously."""
        cell_domain = self.domains(clock_names)
        found = []

        def foreign(bits, domain):
            srcs = set()
            for b in bits:
                if not isinstance(b, int):
                    continue
                for s in self.fanin(b):
                    sd = self.source_domain(s, cell_domain)
                    if sd is not None and sd[0] != domain:
                        srcs.add(sd)
            return tuple(sorted(srcs))

        for cell in self.cells:
            if self.is_ff(cell):
                dom = cell_domain[cell]
                for pin, bits in self.pins(cell, "input"):
                    if pin == _FF_CLOCK:
                        continue
                    if pin in _FF_ASYNC_PINS:
                        # a set/reset made in the register's own domain is timed (recovery and
                        # removal); from anywhere else it is a crossing
                        srcs = foreign(bits, dom)
                        if srcs:
                            found.append(Crossing("ff_async", cell, pin, dom or "unknown", srcs))
                    else:
                        srcs = foreign(bits, dom)
                        if srcs:
                            found.append(Crossing("ff", cell, pin, dom or "unknown", srcs))
            elif self.is_ram(cell):
                clocks = {self.clock_domain(b, clock_names) for pin, bits in self.pins(cell, "input")
                          if pin in _RAM_CLOCKS for b in bits if isinstance(b, int)}
                for pin, bits in self.pins(cell, "input"):
                    if pin in _RAM_CLOCKS:
                        continue
                    srcs = tuple(s for s in foreign(bits, None) if s[0] not in clocks)
                    if srcs:
                        found.append(Crossing("ram", cell, pin, "/".join(sorted(map(str, clocks))), srcs))
            elif cell in self.blackboxes:
                ports, dmap = self.blackboxes[cell]
                for pin, bits in self.pins(cell, "input"):
                    port = ports.get(pin)
                    if port is None or port.domain in (ASYNC, "clock", "serial"):
                        continue
                    dom = dmap.get(port.domain, port.domain)
                    srcs = foreign(bits, dom)
                    if srcs:
                        found.append(Crossing("blackbox", cell, pin, dom, srcs))
        for name, p in self.ports.items():
            if p["direction"] != "output":
                continue
            for i, b in enumerate(p["bits"]):
                drv = self.driver.get(b) if isinstance(b, int) else None
                if drv is None:
                    continue
                srcs = foreign([b], None)
                if srcs:
                    found.append(Crossing("output", "$port", _bit(name, i, len(p["bits"])), ASYNC, srcs))
        return found


def _bit(name: str, i: int, width: int) -> str:
    return f"{name}[{i}]" if width > 1 else name


def glob_match(pattern: str, name: str) -> bool:
    """Vivado object-name matching: ``*`` and ``?`` do not cross the hierarchy separator."""
    rx = re.escape(pattern).replace(r"\*", "[^/]*").replace(r"\?", "[^/]")
    return re.fullmatch(rx, name) is not None
