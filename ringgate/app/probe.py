"""``ringgate probe``: what a ringgate board in this machine is and how it is connected.

Through the ``linux`` backend (VFIO): the PCI identity, driver, IOMMU group and link from sysfs;
BAR0's identity, register-map version, build capabilities and writer status; and from the
function's configuration space the link as trained and the negotiated Max_Payload_Size, which
must be the size the device itself reports (``STATUS``). Anything that does not match what a
ringgate bitstream should show is reported, and the exit status is 1.
"""
from __future__ import annotations

import json
import sys

import click
from rich.console import Console

from ringgate.contracts.pcie import LINKS, PCI_IDENTITY, mps_bytes
from ringgate.sw.driver import open_device
from ringgate.sw.driver.device import DeviceError
from ringgate.sw.driver.pci import PcieCapability, find_functions, sysfs_function
from ringgate.sw.driver.registers import IngressError
from ringgate.sw.driver.regs import ID_VALUE, REGMAP, VERSION_VALUE, Status
from ringgate.sw.driver.vfio import VfioError

__all__ = ["probe", "probe_board", "decode_caps", "status_mps"]

console = Console(soft_wrap=True)


def decode_caps(caps: int) -> dict:
    """``CAPS``: the PCIe datapath bits and the BRAM ring depth of the bitstream."""
    f = REGMAP["CAPS"].unpack(caps)
    return {"datapath_bits": f["DATAPATH_BITS"], "ring_depth": 1 << f["RING_DEPTH_LOG2"]}


def status_mps(status: int) -> int:
    """The max payload size in bytes the device reports in ``STATUS``."""
    return mps_bytes(REGMAP["STATUS"].unpack(status)["MPS"] & 0x3)


def probe_board(bdf: str, *, sysfs: str = "/sys", devdir: str = "/dev") -> tuple[dict, list[str]]:
    """Facts about the board at ``bdf`` and the problems found (empty: all as expected)."""
    problems: list[str] = []
    fn = sysfs_function(bdf, sysfs)
    facts: dict = {"bdf": bdf,
                   "pci": {"vendor": f"{fn.vendor:04x}", "device": f"{fn.device:04x}",
                           "subsystem": f"{fn.subsystem_vendor:04x}:{fn.subsystem:04x}",
                           "class": f"{fn.class_code:06x}", "revision": f"{fn.revision:02x}",
                           "driver": fn.driver, "iommu_group": fn.iommu_group},
                   "link_sysfs": {"speed": fn.current_link_speed, "width": fn.current_link_width,
                                  "max_speed": fn.max_link_speed, "max_width": fn.max_link_width}}
    if (fn.vendor, fn.device) != (PCI_IDENTITY.vendor, PCI_IDENTITY.device):
        problems.append(f"{bdf} is {fn.vendor:04x}:{fn.device:04x}, not a ringgate board "
                        f"({PCI_IDENTITY.vendor:04x}:{PCI_IDENTITY.device:04x})")
    if fn.class_code != PCI_IDENTITY.class_code:
        problems.append(f"class {fn.class_code:06x}, the bitstream sets {PCI_IDENTITY.class_code:06x}")
    try:
        dev = open_device("linux", bdf=bdf, sysfs=sysfs, devdir=devdir)
    except (VfioError, DeviceError) as e:
        problems.append(f"BAR0 not reachable through VFIO: {e}")
        return facts, problems
    try:
        ident, version, caps, status = (dev.read(r) for r in ("ID", "VERSION", "CAPS", "STATUS"))
        facts["bar0"] = {"id": f"{ident:#010x}", "version": f"{version >> 16}.{version & 0xFFFF}",
                         "caps": decode_caps(caps),
                         "status": [f.name for f in Status if status & f],
                         "device_mps": status_mps(status)}
        if ident != ID_VALUE:
            problems.append(f"BAR0 ID {ident:#010x} is not ringgate's {ID_VALUE:#010x}: wrong bitstream?")
        elif version >> 16 != VERSION_VALUE >> 16:
            problems.append(f"register map version {version >> 16}.{version & 0xFFFF}: this driver speaks "
                            f"{VERSION_VALUE >> 16}.x")
        cap = PcieCapability.parse(dev.config(256))
        facts["pcie"] = {"link_speed_gts": cap.link_speed_gts, "link_width": cap.link_width,
                         "max_link_speed_gts": cap.max_link_speed_gts, "max_link_width": cap.max_link_width,
                         "max_payload": cap.max_payload, "max_payload_supported": cap.max_payload_supported,
                         "max_read_request": cap.max_read_request}
        width = decode_caps(caps)["datapath_bits"]
        if ident == ID_VALUE and cap.max_payload != facts["bar0"]["device_mps"]:
            problems.append(f"Max_Payload_Size {cap.max_payload} B in configuration space, but the device "
                            f"reports {facts['bar0']['device_mps']} B (STATUS)")
        if ident == ID_VALUE:
            _ingress_facts(dev, facts, problems)
        link = LINKS.get(width)
        if link is not None:
            lanes = int(link.name.rsplit("x", 1)[1])
            if cap.link_width < lanes or (cap.link_speed_gts or 0) < 8.0:
                problems.append(f"link trained at {cap.link_speed_gts} GT/s x{cap.link_width}; the "
                                f"{width}-bit build is for {link.name}: check the slot (and BIOS lane settings)")
    finally:
        dev.close()
    return facts, problems


def _ingress_facts(dev, facts: dict, problems: list[str]) -> None:
    """The Ethernet ingress, if the bitstream has one: its capabilities, whether its MAC-clock side
    answers (a counter snapshot crosses into the MAC clock and back) and its counters. Opening the
    device reset the function, so the ingress is disabled here and its counters start from 0;
    ``ringgate serve --ingress`` enables it."""
    caps = dev.read("INGRESS_CAPS")
    if not caps:
        return
    info: dict = {"caps": {k.lower(): v for k, v in REGMAP["INGRESS_CAPS"].unpack(caps).items()}}
    try:
        info["counters"] = dev.regs.ingress_counters()
        info["mac_clock"] = "running"
    except IngressError as e:
        info["mac_clock"] = "not running"
        problems.append(f"Ethernet ingress: {e}; check the QSFP cable and LED 1 (MAC RX link)")
    facts["ingress"] = info


@click.command()
@click.option("--bdf", help="PCI address of the board (default: every ringgate board found).")
@click.option("--json", "as_json", is_flag=True, help="Print the facts as JSON.")
@click.option("--sysfs", default="/sys", show_default=True, hidden=True)
@click.option("--devdir", default="/dev", show_default=True, hidden=True)
def probe(bdf, as_json, sysfs, devdir):
    """Identity, version, capabilities, PCIe link and max payload of ringgate boards (linux backend)."""
    bdfs = [bdf] if bdf else find_functions(PCI_IDENTITY.vendor, PCI_IDENTITY.device, sysfs)
    if not bdfs:
        raise click.ClickException(
            f"no ringgate board ({PCI_IDENTITY.vendor:04x}:{PCI_IDENTITY.device:04x}) on the PCI bus: is the "
            f"bitstream loaded? After loading it over JTAG, rescan (echo 1 > /sys/bus/pci/rescan); "
            f"`lspci -d {PCI_IDENTITY.vendor:04x}:` lists what is there")
    results, failed = [], False
    for b in bdfs:
        try:
            facts, problems = probe_board(b, sysfs=sysfs, devdir=devdir)
        except FileNotFoundError as e:
            raise click.ClickException(str(e)) from None
        failed |= bool(problems)
        results.append({**facts, "problems": problems})
        if not as_json:
            _print(facts, problems)
    if as_json:
        click.echo(json.dumps(results if len(results) > 1 else results[0], indent=2))
    if failed:
        sys.exit(1)


def _print(f: dict, problems: list[str]) -> None:
    pci, ls = f["pci"], f["link_sysfs"]
    console.print(f"[bold]ringgate board at {f['bdf']}[/bold]")
    console.print(f"  PCI identity      {pci['vendor']}:{pci['device']} (subsystem {pci['subsystem']}), "
                  f"class {pci['class']}, revision {pci['revision']}")
    console.print(f"  driver, IOMMU     {pci['driver'] or 'none'}, group {pci['iommu_group']}")
    console.print(f"  link (sysfs)      {ls['speed']} x{ls['width']} (max {ls['max_speed']} x{ls['max_width']})")
    if "bar0" in f:
        b = f["bar0"]
        console.print(f"  BAR0 ID, version  {b['id']}, register map {b['version']}")
        console.print(f"  capabilities      {b['caps']['datapath_bits']}-bit datapath, BRAM ring of "
                      f"{b['caps']['ring_depth']} entries")
        console.print(f"  writer status     {', '.join(b['status']) or 'idle'}")
    if "ingress" in f:
        i = f["ingress"]
        line = (f"  Ethernet ingress  {i['caps']['sessions']} sessions, up to {i['caps']['max_messages']} orders "
                f"per datagram; MAC clock {i['mac_clock']}")
        if "counters" in i:
            c = i["counters"]
            drops = sum(v for k, v in c.items() if k.startswith("DROP_"))
            line += f"; {c['FRAMES']} frames ({c['ACCEPTED']} accepted, {drops} dropped) since the reset"
        console.print(line)
    if "pcie" in f:
        p = f["pcie"]
        console.print(f"  link (trained)    {p['link_speed_gts']} GT/s x{p['link_width']} of "
                      f"{p['max_link_speed_gts']} GT/s x{p['max_link_width']}")
        console.print(f"  max payload       {p['max_payload']} B negotiated (function supports "
                      f"{p['max_payload_supported']} B; device reports {f['bar0']['device_mps']} B), "
                      f"max read request {p['max_read_request']} B")
    for line in problems:
        console.print(f"  [red]problem:[/red] {line}")
    if not problems:
        console.print("  [green]as a ringgate bitstream should be[/green]")
