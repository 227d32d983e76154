"""Gateware in Amaranth: the BRAM ring (``ringbuf``), the DMA writer core (``pcie_dma``) and the
PCIe block around it (``pcie``)."""
