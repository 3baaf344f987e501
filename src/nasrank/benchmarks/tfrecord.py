"""Read and write TFRecord files without TensorFlow.

A TFRecord file is a sequence of records, each framed as::

    uint64  length             little-endian
    uint32  masked_crc32c(length bytes)
    bytes   data[length]
    uint32  masked_crc32c(data)

where ``masked_crc32c(b) = ((c >> 15) | (c << 17)) + 0xa282ead8 (mod 2**32)`` with
``c`` the CRC-32C (Castagnoli) of ``b``, computed by the ``crc32c`` package.

Reading streams the file record by record, so a file of any size is read in memory
bounded by its largest record. Every framing problem is a
:class:`~nasrank.errors.DataFormatError` naming the file, the record index (0-based)
and the byte offset where the record starts.

Usage::

    from nasrank.benchmarks.tfrecord import iter_records, write_records
    write_records("x.tfrecord", [b"first", b"second"])
    for data in iter_records("x.tfrecord"):
        ...
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterable, Iterator

import crc32c

from nasrank.errors import DataFormatError
from nasrank.io import atomic_path

__all__ = [
    "MASK_DELTA",
    "iter_records",
    "iter_records_with_offsets",
    "masked_crc32c",
    "write_records",
]

MASK_DELTA = 0xA282EAD8
_HEADER = struct.Struct("<QI")  # length, masked crc of the 8 length bytes
_U64 = struct.Struct("<Q")
_U32 = struct.Struct("<I")
_BUFFER = 1 << 20


def masked_crc32c(data: bytes) -> int:
    """The masked CRC-32C TFRecord stores for ``data``."""
    crc = crc32c.crc32c(data)
    return ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + MASK_DELTA) & 0xFFFFFFFF


def iter_records_with_offsets(
    path: str | os.PathLike[str], *, check_crc: bool = True
) -> Iterator[tuple[int, bytes]]:
    """Yield ``(byte offset of the record, data)`` for every record of ``path``.

    Args:
        path: a TFRecord file (uncompressed).
        check_crc: verify both CRCs of every record (about 1 GB/s with the hardware
            CRC of the ``crc32c`` package; disable only for files already verified).

    Raises:
        DataFormatError: a truncated header or data, a length or data CRC mismatch,
            naming the file, the record index and its byte offset.
    """
    path = os.fspath(path)
    with open(path, "rb", buffering=_BUFFER) as f:
        size = os.fstat(f.fileno()).st_size
        offset = 0
        index = 0
        read = f.read
        unpack = _HEADER.unpack
        while True:
            header = read(12)
            if not header:
                return
            if len(header) < 12:
                raise DataFormatError(
                    f"{path}: record {index} at byte offset {offset}: truncated header "
                    f"({len(header)} of 12 bytes; the file ends mid-record)"
                )
            length, length_crc = unpack(header)
            if check_crc and masked_crc32c(header[:8]) != length_crc:
                raise DataFormatError(
                    f"{path}: record {index} at byte offset {offset}: length CRC mismatch "
                    "(corrupt file)"
                )
            remaining = size - offset - 12
            if length + 4 > remaining:
                raise DataFormatError(
                    f"{path}: record {index} at byte offset {offset}: truncated data "
                    f"(declares {length} bytes + 4 CRC bytes, {max(remaining, 0)} remain)"
                )
            body = read(length + 4)
            if len(body) < length + 4:  # the file shrank while being read
                raise DataFormatError(
                    f"{path}: record {index} at byte offset {offset}: truncated data "
                    f"(declares {length} bytes + 4 CRC bytes, read {len(body)})"
                )
            data = body[:length]
            if check_crc and masked_crc32c(data) != _U32.unpack_from(body, length)[0]:
                raise DataFormatError(
                    f"{path}: record {index} at byte offset {offset}: data CRC mismatch "
                    "(corrupt file)"
                )
            yield offset, data
            offset += length + 16
            index += 1


def iter_records(path: str | os.PathLike[str], *, check_crc: bool = True) -> Iterator[bytes]:
    """Yield the data of every record of the TFRecord file ``path``, streaming.

    See :func:`iter_records_with_offsets` for the arguments and errors.
    """
    for _, data in iter_records_with_offsets(path, check_crc=check_crc):
        yield data


def write_records(path: str | os.PathLike[str], records: Iterable[bytes]) -> int:
    """Write ``records`` as a TFRecord file at ``path`` atomically; return their number.

    The file appears at ``path`` only once completely written (``nasrank.io.atomic_path``).
    """
    n = 0
    with atomic_path(path) as tmp, open(tmp, "wb", buffering=_BUFFER) as f:
        for data in records:
            data = bytes(data)
            length = _U64.pack(len(data))
            f.write(length)
            f.write(_U32.pack(masked_crc32c(length)))
            f.write(data)
            f.write(_U32.pack(masked_crc32c(data)))
            n += 1
    return n
