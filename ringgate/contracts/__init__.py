"""The hardware/software contracts, each defined once: ring entry and cursor line (``entry``), the\nBAR0 register map (``regmap``), the PCIe platform figures (``pcie``)."""
