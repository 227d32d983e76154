"""Host driver of the FPGA ring: Device backends, ring consumer (docs/driver.md)."""
from .backends import open_device, open_ring
from .consumer import ResyncError, RingConsumer, SequenceError, buffer_bytes
from .device import Device, DeviceError, DmaBuffer, ModelDevice, file_buffer

__all__ = ["Device", "DeviceError", "DmaBuffer", "ModelDevice", "file_buffer", "RingConsumer",
           "SequenceError", "ResyncError", "buffer_bytes", "open_ring", "open_device"]
