"""Host software: the driver and the exchange core side by side, the gateway above them."""
