"""Append-only binary journal of sequenced commands, and snapshot files.

A journal *frame* holds one batch: the commands the sequencer numbered together,
written with one ``write`` and (per policy) one ``fsync``, and acknowledged
together. Framing per batch rather than per command is both cheaper (one CRC,
one header) and exactly as fine-grained as acknowledgements, so a torn frame is
always one that nobody was told about: recovery cuts it and loses nothing that
was acknowledged.

Frame: ``magic u32 | payload length u32 | crc32 u32 | first seq u64 | count u32``
(little-endian, 24 bytes) then a msgpack payload ``[timestamp, [command, ...]]``.
The CRC covers first seq, count and payload. Segments are files named
``journal-<first seq>.log``; a new one starts after each snapshot so old ones
can be deleted once a newer snapshot covers them.

Snapshot file: ``magic u32 | length u64 | crc32 u32 | seq u64`` then the
canonical state (``state.encode_state``); written to a temp file, fsynced and
renamed, so a snapshot either exists whole or not at all.
"""
from __future__ import annotations

import os
import struct
import time
import zlib
from pathlib import Path

import msgspec

from .codes import FsyncPolicy
from .commands import Command

__all__ = ["JournalWriter", "read_segment", "list_segments", "list_snapshots", "write_snapshot",
           "read_snapshot", "JournalCorrupt", "FRAME_HEADER"]

FRAME_MAGIC = 0x314A4752          # "RGJ1"
SNAP_MAGIC = 0x31534752           # "RGS1"
FRAME_HEADER = struct.Struct("<IIIQI")
SNAP_HEADER = struct.Struct("<IQIQ")
_TAIL = struct.Struct("<QI")

_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(tuple[int, list[Command]])


class JournalCorrupt(Exception):
    """A bad frame that is not the torn tail of the newest segment."""


def segment_name(first_seq: int) -> str:
    return f"journal-{first_seq:020d}.log"


def snapshot_name(seq: int, prefix: str = "snapshot") -> str:
    return f"{prefix}-{seq:020d}.snap"


def list_segments(directory: Path) -> list[tuple[int, Path]]:
    out = []
    for p in Path(directory).glob("journal-*.log"):
        try:
            out.append((int(p.stem.split("-")[1]), p))
        except ValueError:
            continue
    return sorted(out)


def list_snapshots(directory: Path, prefix: str = "snapshot") -> list[tuple[int, Path]]:
    out = []
    for p in Path(directory).glob(f"{prefix}-*.snap"):
        try:
            out.append((int(p.stem.split("-")[1]), p))
        except ValueError:
            continue
    return sorted(out)


def encode_frame(first_seq: int, timestamp: int, commands: list) -> bytes:
    payload = _encoder.encode((timestamp, commands))
    tail = _TAIL.pack(first_seq, len(commands))
    crc = zlib.crc32(payload, zlib.crc32(tail))
    return FRAME_HEADER.pack(FRAME_MAGIC, len(payload), crc, first_seq, len(commands)) + payload


def read_segment(path: Path):
    """Yield ``(first_seq, timestamp, commands)`` per good frame, then stop.

    Returns (via StopIteration.value, see :func:`scan_segment`) the byte length of the
    good prefix. A frame is bad if its header is short, its magic or CRC is wrong,
    its payload runs past the end of the file or does not decode."""
    data = Path(path).read_bytes()
    pos, n = 0, len(data)
    hs = FRAME_HEADER.size
    while pos + hs <= n:
        magic, length, crc, first, count = FRAME_HEADER.unpack_from(data, pos)
        end = pos + hs + length
        if magic != FRAME_MAGIC or end > n:
            break
        payload = data[pos + hs:end]
        if zlib.crc32(payload, zlib.crc32(_TAIL.pack(first, count))) != crc:
            break
        try:
            ts, commands = _decoder.decode(payload)
        except msgspec.DecodeError:
            break
        if len(commands) != count:
            break
        yield first, ts, commands
        pos = end
    return pos


def scan_segment(path: Path) -> tuple[list, int, int]:
    """All good frames of a segment, the length of the good prefix and the file size."""
    frames = []
    gen = read_segment(path)
    while True:
        try:
            frames.append(next(gen))
        except StopIteration as stop:
            good = stop.value
            break
    return frames, good, Path(path).stat().st_size


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class JournalWriter:
    """Appends frames to the current segment; fsync per :class:`FsyncPolicy`."""

    def __init__(self, directory: Path, first_seq: int, policy: FsyncPolicy = FsyncPolicy.BATCH,
                 interval: float = 0.01, truncate_at: int | None = None, path: Path | None = None):
        self.directory = Path(directory)
        self.policy = FsyncPolicy(policy)
        self.interval = interval
        self.path = path or self.directory / segment_name(first_seq)
        new = not self.path.exists()
        self.fd = os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o644)
        if truncate_at is not None:
            # cut a torn tail so the next frame does not land behind garbage
            os.ftruncate(self.fd, truncate_at)
            os.fsync(self.fd)
        os.lseek(self.fd, 0, os.SEEK_END)
        if new:
            _fsync_dir(self.directory)
        self._last_sync = time.monotonic()
        self.bytes_written = 0
        self.syncs = 0

    def append(self, first_seq: int, timestamp: int, commands: list) -> None:
        self.write(encode_frame(first_seq, timestamp, commands))

    def write(self, frame: bytes) -> None:
        view = memoryview(frame)
        while view:
            n = os.write(self.fd, view)
            view = view[n:]
        self.bytes_written += len(frame)
        policy = self.policy
        if policy is FsyncPolicy.BATCH:
            self.sync()
        elif policy is FsyncPolicy.INTERVAL and time.monotonic() - self._last_sync >= self.interval:
            self.sync()

    def sync(self) -> None:
        os.fsync(self.fd)
        self.syncs += 1
        self._last_sync = time.monotonic()

    def close(self) -> None:
        if self.fd >= 0:
            os.fsync(self.fd)
            os.close(self.fd)
            self.fd = -1


def write_snapshot(directory: Path, seq: int, blob: bytes, prefix: str = "snapshot") -> Path:
    """Write ``blob`` as ``<prefix>-<seq>.snap`` atomically (temp file, fsync, rename, fsync dir)."""
    directory = Path(directory)
    final = directory / snapshot_name(seq, prefix)
    tmp = final.with_suffix(".tmp")
    header = SNAP_HEADER.pack(SNAP_MAGIC, len(blob), zlib.crc32(blob), seq)
    with open(tmp, "wb") as f:
        f.write(header)
        f.write(blob)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, final)
    _fsync_dir(directory)
    return final


def read_snapshot(path: Path) -> tuple[int, bytes] | None:
    """(seq, state blob), or None if the file is damaged."""
    data = Path(path).read_bytes()
    if len(data) < SNAP_HEADER.size:
        return None
    magic, length, crc, seq = SNAP_HEADER.unpack_from(data, 0)
    blob = data[SNAP_HEADER.size:]
    if magic != SNAP_MAGIC or len(blob) != length or zlib.crc32(blob) != crc:
        return None
    return seq, blob
