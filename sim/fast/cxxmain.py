"""A C++ main for a Verilated model: clocks toggled in a loop, driven over a line protocol.

No cocotb, no ``--timing``: the main owns the clocks. Python (``runner.FastSim``) writes
commands on the process's stdin and reads one answer line per command on its stdout:

=================================  ====================================================
``set PORT VALUE``                 drive an input (decimal, up to 64 bits) -> ``ok``
``get PORT [PORT ...]``            read ports after settling inputs -> ``= v1 v2 ...``
``table ADDR DATA N``              ``ADDR`` = 0..N-1, read ``DATA`` each -> ``= v0 ... vN-1``
``clock NAME PERIOD PHASE``        set a clock's period and phase (ps), before the first run
                                   -> ``ok``
``run N DOMAIN UNTIL EVERY``       N rising edges of clock DOMAIN; stop early after an edge
                                   that leaves port UNTIL non-zero (``-`` for none); a
                                   ``progress DONE`` line every EVERY edges (0: none)
                                   -> ``ok EDGES PICOSECONDS WALL_NS CPU_NS``
``quit``                           exit
=================================  ====================================================

Errors answer ``err <why>`` and leave the model as it was.

Clocks: each domain has an integer period in picoseconds (built in, or set with ``clock`` before
the first run, so one build serves every clock ratio); a scheduler toggles every clock
whose next edge is the earliest, then evaluates the model once, so any ratio runs exactly
(156.25 MHz against 250 MHz is 6,400 ps against 4,000 ps). With one clock the loop is the
plain ``clk = 1; eval; clk = 0; eval``.

Ports wider than 64 bits are not reachable from the protocol: knobs and counters are narrow,
and wide data stays inside the model.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Mapping

__all__ = ["Clock", "Port", "generate", "ports_of", "registered_reset_top"]


@dataclass(frozen=True)
class Clock:
    """A clock input toggled by the main: ``port`` with period ``period_ps`` (even), first rising
    edge at ``phase_ps`` + half a period."""
    port: str
    period_ps: int
    phase_ps: int = 0

    def __post_init__(self):
        if self.period_ps <= 0 or self.period_ps % 2:
            raise ValueError(f"clock {self.port}: period must be a positive even number of ps, not {self.period_ps}")
        if not 0 <= self.phase_ps < self.period_ps:
            raise ValueError(f"clock {self.port}: phase must be in [0, period), not {self.phase_ps}")


@dataclass(frozen=True)
class Port:
    name: str
    width: int
    output: bool


def ports_of(component, extra_inputs: Mapping[str, int] | None = None) -> list[Port]:
    """The Verilog ports Amaranth gives a component: its signature, flattened with ``__``, plus
    ``extra_inputs`` (name -> width; default the ``sync`` reset ``rst``). Clocks are added by
    :func:`generate`."""
    from amaranth.lib import wiring

    extra = {"rst": 1} if extra_inputs is None else extra_inputs
    ports = [Port(name, width, False) for name, width in extra.items()]
    for path, member, value in component.signature.flatten(component):
        ports.append(Port("__".join(map(str, path)), len(value), member.flow == wiring.Out))
    return ports


def registered_reset_top(core_verilog: str, core: str, top: str, ports: Iterable[Port],
                         resets: Mapping[str, str]) -> str:
    """Verilog of a top ``top`` around module ``core`` whose reset inputs (``resets``: reset port
    -> its clock port) pass through a flip-flop of their clock, every other port straight through.

    Amaranth computes each register's next value in combinational logic that reads the reset;
    with the reset a primary input, Verilator re-evaluates all of that on every ``eval()``
    (twice a cycle), on top of the evaluation after the clock edge. Behind a register the reset
    is ordinary state and that logic runs once a cycle. The reset takes effect one edge later.
    """
    ports = list(ports)
    clocks = sorted(set(resets.values()) - {p.name for p in ports})    # those not among the ports
    decl, conns, regs = [], [], []
    for c in clocks:
        decl.append(f"  input wire {c};")
        conns.append(f".{c}({c})")
    for p in ports:
        rng = f"[{p.width - 1}:0] " if p.width > 1 else ""
        decl.append(f"  {'output' if p.output else 'input'} wire {rng}{p.name};")
        if p.name in resets:
            regs.append(f"  reg {p.name}_q = 1'b1;\n  always @(posedge {resets[p.name]}) {p.name}_q <= {p.name};")
            conns.append(f".{p.name}({p.name}_q)")
        else:
            conns.append(f".{p.name}({p.name})")
    names = ", ".join([*clocks, *(p.name for p in ports)])
    return core_verilog + f"""
module {top}({names});
{chr(10).join(decl)}
{chr(10).join(regs)}
  {core} core({', '.join(conns)});
endmodule
"""


def _ctype(width: int) -> str:
    return "uint8_t" if width <= 8 else "uint16_t" if width <= 16 else "uint32_t" if width <= 32 else "uint64_t"


def generate(top: str, ports: Iterable[Port], clocks: Iterable[Clock]) -> str:
    """C++ source of the main of Verilated module ``top`` (class ``V<top>``)."""
    clocks = list(clocks)
    if not clocks:
        raise ValueError("at least one clock is needed")
    if len({c.port for c in clocks}) != len(clocks):
        raise ValueError("a clock is listed twice")
    narrow = [p for p in ports if p.width <= 64 and p.name not in {c.port for c in clocks}]
    entries = []
    for p in narrow:
        setter = "nullptr" if p.output else f"[](V{top}* m, uint64_t v) {{ m->{p.name} = ({_ctype(p.width)})v; }}"
        entries.append(f'  {{"{p.name}", {p.width}, [](V{top}* m) -> uint64_t {{ return m->{p.name}; }}, {setter}}},')
    clock_rows = "\n".join(
        f'  {{"{c.port}", {c.period_ps // 2}, {c.phase_ps + c.period_ps // 2}, '
        f'[](V{top}* m, uint8_t v) {{ m->{c.port} = v; }}}},' for c in clocks)
    return _TEMPLATE.replace("@TOP@", top).replace("@PORTS@", "\n".join(entries)).replace("@CLOCKS@", clock_rows)


_TEMPLATE = r"""// Generated by ringgate.sim.fast.cxxmain: do not edit.
#include "V@TOP@.h"
#include "verilated.h"

#include <chrono>
#include <cinttypes>
#include <ctime>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

using Model = V@TOP@;

struct PortDef {
    const char* name;
    int width;
    uint64_t (*get)(Model*);
    void (*set)(Model*, uint64_t);
};

struct ClockDef {
    const char* name;
    uint64_t half_ps;     // half period
    uint64_t first_ps;    // time of the first rising edge
    void (*drive)(Model*, uint8_t);
};

static const PortDef PORTS[] = {
@PORTS@
};
static ClockDef CLOCKS[] = {
@CLOCKS@
};
static const size_t NPORTS = sizeof(PORTS) / sizeof(PORTS[0]);
static const size_t NCLOCKS = sizeof(CLOCKS) / sizeof(CLOCKS[0]);

static Model* model;
static uint64_t now_ps = 0;            // time of the last evaluated edge
static uint64_t next_ps[NCLOCKS];      // time of each clock's next toggle
static uint8_t level[NCLOCKS];
static bool ran = false;               // clocks are fixed once time has advanced

// CPU time of the process: on a shared machine, wall time also counts other people's work.
static uint64_t cpu_ns() {
    timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static const PortDef* find(const char* name) {
    for (size_t i = 0; i < NPORTS; i++)
        if (!strcmp(PORTS[i].name, name)) return &PORTS[i];
    return nullptr;
}

static int find_clock(const char* name) {
    for (size_t i = 0; i < NCLOCKS; i++)
        if (!strcmp(CLOCKS[i].name, name)) return (int)i;
    return -1;
}

// Advance to the earliest pending toggle, apply every toggle due then, evaluate once.
// Returns true when clock `watch` rose.
static inline bool step(int watch) {
    uint64_t t = next_ps[0];
    for (size_t i = 1; i < NCLOCKS; i++)
        if (next_ps[i] < t) t = next_ps[i];
    bool rose = false;
    for (size_t i = 0; i < NCLOCKS; i++) {
        if (next_ps[i] == t) {
            level[i] ^= 1;
            CLOCKS[i].drive(model, level[i]);
            next_ps[i] += CLOCKS[i].half_ps;
            if ((int)i == watch && level[i]) rose = true;
        }
    }
    now_ps = t;
    model->eval();
    return rose;
}

static uint64_t run(uint64_t edges, int watch, const PortDef* until, uint64_t every) {
    uint64_t done = 0;
    while (done < edges) {
        uint64_t chunk = edges - done;
        if (every && chunk > every - done % every) chunk = every - done % every;
        uint64_t k = 0;
        if (NCLOCKS == 1 && !until) {
            // One clock, no stop condition: the tightest loop.
            const uint64_t half = CLOCKS[0].half_ps;
            for (; k < chunk; k++) {
                if (level[0]) {              // finish the high phase first
                    level[0] = 0; CLOCKS[0].drive(model, 0); model->eval();
                    now_ps = next_ps[0]; next_ps[0] += half;
                }
                level[0] = 1; CLOCKS[0].drive(model, 1); model->eval();
                now_ps = next_ps[0]; next_ps[0] += half;
            }
        } else {
            while (k < chunk) {
                if (step(watch)) {
                    k++;
                    if (until && until->get(model)) { done += k; return done; }
                }
            }
        }
        done += k;
        if (every && done % every == 0 && done < edges) {
            printf("progress %" PRIu64 "\n", done);
            fflush(stdout);
        }
    }
    return done;
}

int main(int argc, char** argv) {
    Verilated::commandArgs(argc, argv);
    model = new Model;
    for (size_t i = 0; i < NCLOCKS; i++) {
        level[i] = 0;
        CLOCKS[i].drive(model, 0);
        next_ps[i] = CLOCKS[i].first_ps;
    }
    model->eval();

    std::vector<char> buf(1 << 16);
    while (fgets(buf.data(), (int)buf.size(), stdin)) {
        std::vector<char*> arg;
        for (char* tok = strtok(buf.data(), " \t\r\n"); tok; tok = strtok(nullptr, " \t\r\n"))
            arg.push_back(tok);
        if (arg.empty()) continue;
        std::string cmd = arg[0];
        if (cmd == "quit") break;
        if (cmd == "set" && arg.size() == 3) {
            const PortDef* p = find(arg[1]);
            if (!p) { printf("err unknown port %s\n", arg[1]); }
            else if (!p->set) { printf("err %s is an output\n", arg[1]); }
            else {
                char* end;
                uint64_t v = strtoull(arg[2], &end, 10);
                if (*end || (p->width < 64 && (v >> p->width)))
                    printf("err value %s does not fit %s (%d bits)\n", arg[2], arg[1], p->width);
                else { p->set(model, v); printf("ok\n"); }
            }
        } else if (cmd == "get" && arg.size() >= 2) {
            model->eval();                   // settle inputs set since the last edge
            std::string out = "=";
            bool bad = false;
            for (size_t i = 1; i < arg.size(); i++) {
                const PortDef* p = find(arg[i]);
                if (!p) { printf("err unknown port %s\n", arg[i]); bad = true; break; }
                out += " " + std::to_string(p->get(model));
            }
            if (!bad) printf("%s\n", out.c_str());
        } else if (cmd == "table" && arg.size() == 4) {
            const PortDef* a = find(arg[1]);
            const PortDef* d = find(arg[2]);
            uint64_t n = strtoull(arg[3], nullptr, 10);
            if (!a || !a->set || !d) { printf("err table needs an input and a port\n"); }
            else {
                std::string out = "=";
                for (uint64_t i = 0; i < n; i++) {
                    a->set(model, i);
                    model->eval();
                    out += " " + std::to_string(d->get(model));
                }
                printf("%s\n", out.c_str());
            }
        } else if (cmd == "clock" && arg.size() == 4) {
            int c = find_clock(arg[1]);
            uint64_t period = strtoull(arg[2], nullptr, 10), phase = strtoull(arg[3], nullptr, 10);
            if (c < 0) { printf("err unknown clock %s\n", arg[1]); }
            else if (ran) { printf("err clocks are set before the first run\n"); }
            else if (!period || period % 2 || phase >= period) {
                printf("err clock %s: period must be even and > 0, phase below it\n", arg[1]);
            } else {
                CLOCKS[c].half_ps = period / 2;
                CLOCKS[c].first_ps = phase + period / 2;
                next_ps[c] = CLOCKS[c].first_ps;
                printf("ok\n");
            }
        } else if (cmd == "run" && arg.size() == 5) {
            int watch = find_clock(arg[2]);
            const PortDef* until = strcmp(arg[3], "-") ? find(arg[3]) : nullptr;
            if (watch < 0) { printf("err unknown clock %s\n", arg[2]); }
            else if (strcmp(arg[3], "-") && !until) { printf("err unknown port %s\n", arg[3]); }
            else {
                ran = true;
                auto t0 = std::chrono::steady_clock::now();
                uint64_t c0 = cpu_ns();
                uint64_t done = run(strtoull(arg[1], nullptr, 10), watch, until, strtoull(arg[4], nullptr, 10));
                auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                    std::chrono::steady_clock::now() - t0).count();
                printf("ok %" PRIu64 " %" PRIu64 " %lld %" PRIu64 "\n", done, now_ps, (long long)ns, cpu_ns() - c0);
            }
        } else {
            printf("err bad command %s\n", arg[0]);
        }
        fflush(stdout);
    }
    model->final();
    delete model;
    return 0;
}
"""
