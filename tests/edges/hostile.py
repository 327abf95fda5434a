"""Builders of hostile files for the tests (generated in the test, never stored)."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import struct
import subprocess
import sys
import textwrap
import zipfile
import zlib

import numpy as np

# Enough for Python, numpy and vecgrad (measured: ~300 MB of address space suffices),
# far below what the hostile files ask for (1 GiB and more).
MEMORY_LIMIT = 700 << 20


def zeros_deflate(nbytes: int, chunk: int = 16 << 20) -> bytes:
    """A raw deflate stream that inflates to `nbytes` zeros, made in well under a second:
    one fully flushed (byte-aligned, history-free) block repeated, then a final block."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = compressor.compress(bytes(chunk)) + compressor.flush(zlib.Z_FULL_FLUSH)
    tail = zlib.compressobj(9, zlib.DEFLATED, -15)
    last = tail.compress(bytes(nbytes % chunk)) + tail.flush()
    return block * (nbytes // chunk) + last


def gzip_of(prefix: bytes, zeros: int) -> bytes:
    """A gzip file whose content is `prefix` followed by `zeros` zero bytes (the trailer's
    CRC is not computed: readers that stop at the header's size never reach it)."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    head = compressor.compress(prefix) + compressor.flush(zlib.Z_FULL_FLUSH)
    body = zeros_deflate(zeros)
    header = b"\x1f\x8b\x08\x00" + b"\x00" * 4 + b"\x00\xff"
    trailer = struct.pack("<II", 0, (len(prefix) + zeros) & 0xFFFFFFFF)
    return header + head + body + trailer


def zip_with_deflated_member(name: str, raw: bytes, size: int, crc: int = 0) -> bytes:
    """A zip archive with one deflated member whose directory says `size` bytes."""
    filename = name.encode()
    local = struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, 0, 0, crc, len(raw), size,
                        len(filename), 0) + filename
    central = struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, 8, 0, 0, crc,
                          len(raw), size, len(filename), 0, 0, 0, 0, 0, 0) + filename
    offset = len(local) + len(raw)
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 1, 1, len(central), offset, 0)
    return local + raw + central + end


def npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def write_members(path, members: dict[str, bytes]) -> None:
    """A stored (uncompressed) .npz from raw member bytes, e.g. forged .npy headers."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        for name, data in members.items():
            archive.writestr(f"{name}.npy", data)


def checkpoint_with_manifest(path, manifest_bytes: bytes, arrays: dict | None = None) -> None:
    """A checkpoint whose manifest is `manifest_bytes` with a valid digest."""
    digest = hashlib.sha256(manifest_bytes).hexdigest().encode("ascii")
    members = {"__manifest__": npy_bytes(np.frombuffer(manifest_bytes, dtype=np.uint8)),
               "__digest__": npy_bytes(np.frombuffer(digest, dtype=np.uint8))}
    for name, array in (arrays or {}).items():
        members[name] = npy_bytes(array)
    write_members(path, members)


def manifest(nodes: list) -> bytes:
    return json.dumps({"format": "vecgrad-checkpoint", "version": 1,
                       "nodes": nodes}).encode()


def run_limited(code: str, timeout: float = 60, memory: int = MEMORY_LIMIT):
    """Run `code` in a fresh Python whose address space is capped at `memory` bytes;
    returns the CompletedProcess (stdout, stderr as text)."""
    prologue = textwrap.dedent(f"""
        import resource
        resource.setrlimit(resource.RLIMIT_AS, ({memory}, {memory}))
    """)
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
    return subprocess.run([sys.executable, "-c", prologue + textwrap.dedent(code)],
                          capture_output=True, text=True, timeout=timeout, env=env)


def gzip_small(data: bytes) -> bytes:
    return gzip.compress(data)
