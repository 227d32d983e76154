"""The PCIe platform both sides of the path assume: user clock, payload-size codes, link rates.

These are figures of the UltraScale+ hard block configuration the gateware is built for (Gen3,
250 MHz AXI-Stream user clock) and of the links it drives; the gateware, the golden model, the
benches and the reports read them from here.
"""
from __future__ import annotations

from dataclasses import dataclass

__all__ = ["USER_CLOCK_HZ", "USER_CLOCK_NS", "USER_CLOCK_MHZ", "MAX_PAYLOADS", "mps_code",
           "mps_bytes", "PAGE", "DESCRIPTOR_BYTES", "TLP_OVERHEAD", "MAX_TLP_ENTRIES", "Link", "LINKS",
           "PciIdentity", "PCI_IDENTITY"]

USER_CLOCK_HZ = 250_000_000        # pcie4_uscale_plus user_clk at Gen3 x8 / 256 bit and x16 / 512 bit
USER_CLOCK_NS = 4
USER_CLOCK_MHZ = USER_CLOCK_HZ / 1e6

MAX_PAYLOADS = (128, 256, 512, 1024)   # the Max_Payload_Size values the writer supports
PAGE = 4096                            # a Memory Write never crosses a 4 KiB boundary (PCIe base spec)
DESCRIPTOR_BYTES = 16                  # UltraScale+ RQ descriptor: the header beat share
TLP_OVERHEAD = 24                      # link bytes per MWr with a 64-bit address: framing, seq, header, LCRC
MAX_TLP_ENTRIES = 1024 // 64           # entries in the largest TLP the writer forms (MPS 1024)


def mps_code(max_payload: int) -> int:
    """``cfg_max_payload`` / ``STATUS[10:8]`` code of a max payload size: 128 B -> 0 ... 1024 B -> 3."""
    if max_payload not in MAX_PAYLOADS:
        raise ValueError(f"max payload must be one of {MAX_PAYLOADS} bytes, not {max_payload!r}")
    return MAX_PAYLOADS.index(max_payload)


def mps_bytes(code: int) -> int:
    """The max payload size in bytes of a ``cfg_max_payload`` code (0..3)."""
    if code not in range(len(MAX_PAYLOADS)):
        raise ValueError(f"max payload code must be 0..3, not {code!r}")
    return MAX_PAYLOADS[code]


@dataclass(frozen=True)
class Link:
    """A PCIe link a datapath width is built for, with its TLP-layer bandwidth (pcie-model:
    128b/130b encoding, DLLP and flow-control overhead removed; see docs/pcie.md)."""
    name: str
    tlp_bps: float


LINKS = {256: Link("Gen3 x8", 57.9e9), 512: Link("Gen3 x16", 115.8e9)}


@dataclass(frozen=True)
class PciIdentity:
    """What the hard block's configuration space says the function is: the IDs ``lspci`` shows
    and ``ringgate probe`` looks for. The bitstream (IP configuration) and the host tools read
    them from here."""
    vendor: int
    device: int
    class_code: int         # base class, sub-class, programming interface (24 bits)
    revision: int

    def __post_init__(self):
        for name, bits in (("vendor", 16), ("device", 16), ("class_code", 24), ("revision", 8)):
            value = getattr(self, name)
            if not 0 <= value < 1 << bits:
                raise ValueError(f"PCI {name} {value:#x} does not fit {bits} bits")


# Xilinx's vendor ID (the hard block's default, as on most open designs for Xilinx boards) with
# a device ID of our own ("RG"); class 12h/00h: processing accelerator (PCI Code and ID
# Assignment Specification), so no kernel network or storage driver claims the function.
PCI_IDENTITY = PciIdentity(vendor=0x10EE, device=0x5247, class_code=0x120000, revision=0x01)
