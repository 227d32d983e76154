"""The PCIe block: BAR0 registers (``bar0``), the UltraScale+ adapters (``usp``) and the top."""
