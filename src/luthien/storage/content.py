"""Content-addressed bodies: cutting a body into chunks, compressing them, and putting it back.

An agent re-sends the whole conversation on every turn, so most of each request body was already
stored with the previous turn. A body is cut into content-defined chunks (FastCDC, a gear rolling
hash in C: boundaries depend on the bytes around them, not on offsets, so text inserted in the middle
of a body changes only the chunks it touches). Each chunk is named by its SHA-256 digest, stored once
(zstd-compressed) however many bodies contain it, and a body is kept as its manifest: the ids of its
chunks in order. Reading a body joins the chunks back: the exact bytes that were recorded.

The parameters were chosen by measurement (docs/records.md): a 100-turn Claude Code session is stored
in about 1x its last request.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import zstandard
from pyfastcdc import FastCDC

# FastCDC parameters. Smaller chunks dedup better around each turn's edits but make manifests longer
# (8 bytes per chunk, per body); 2 KiB measured best for growing conversations.
CHUNK_AVG_BYTES = 2048
CHUNK_MIN_BYTES = 512
CHUNK_MAX_BYTES = 16384
# zstd level: 3 (zstd's default) compresses a chunk in microseconds; higher levels gain little on
# small chunks.
ZSTD_LEVEL = 3
_ID = struct.Struct("<q")


@dataclass(frozen=True, slots=True)
class Piece:
    """One chunk of a body: its digest and its bytes (a view into the body)."""

    digest: bytes
    data: memoryview


@dataclass(frozen=True, slots=True)
class SplitBody:
    """A body cut into chunks: its size and its chunks' digests in order."""

    size: int
    digests: tuple[bytes, ...]


class Splitter:
    """Cuts bodies into digested chunks. Not thread-safe: one per thread."""

    def __init__(self) -> None:
        self._cdc = FastCDC(CHUNK_AVG_BYTES, min_size=CHUNK_MIN_BYTES, max_size=CHUNK_MAX_BYTES)
        # Copied for each chunk: `hashlib.sha256(data)` looks the algorithm up in OpenSSL every time,
        # which costs more instructions than hashing a small chunk.
        self._sha256 = hashlib.sha256()

    def _digest(self, data: bytes | memoryview) -> bytes:
        sha256 = self._sha256.copy()
        sha256.update(data)
        return sha256.digest()

    def pieces(self, body: bytes) -> list[Piece]:
        """The chunks of `body`, in order (views into `body`)."""
        digest = self._digest
        if len(body) <= CHUNK_MIN_BYTES:
            # FastCDC never cuts before `CHUNK_MIN_BYTES`: such a body is one chunk (none if empty).
            # Said here, it costs a hash instead of the cutter's set-up, the larger part for small bodies.
            return [Piece(digest(body), memoryview(body))] if body else []
        return [Piece(digest(chunk.data), chunk.data) for chunk in self._cdc.cut_buf(body)]

    def split(self, body: bytes, into: dict[bytes, memoryview]) -> SplitBody:
        """Cut `body`; add each chunk to `into` (digest to bytes) and return the body's digests."""
        digests: list[bytes] = []
        for piece in self.pieces(body):
            into.setdefault(piece.digest, piece.data)
            digests.append(piece.digest)
        return SplitBody(len(body), tuple(digests))


class Codec:
    """zstd compression of single chunks. Not thread-safe: one per thread."""

    def __init__(self) -> None:
        self._compressor = zstandard.ZstdCompressor(level=ZSTD_LEVEL)
        self._decompressor = zstandard.ZstdDecompressor()

    def compress(self, data: bytes | memoryview) -> bytes:
        """The stored form of a chunk."""
        return self._compressor.compress(data)

    def decompress(self, stored: bytes, size: int) -> bytes:
        """A chunk's bytes from its stored form.

        Raises:
            CorruptContent: the stored bytes do not decompress to `size` bytes.
        """
        try:
            data = self._decompressor.decompress(stored, max_output_size=size)
        except zstandard.ZstdError as error:
            raise CorruptContent(f"a chunk does not decompress: {error}") from error
        if len(data) != size:
            raise CorruptContent(f"a chunk decompressed to {len(data)} bytes, expected {size}")
        return data


class CorruptContent(RuntimeError):
    """Stored content does not reassemble (a missing or damaged chunk)."""


def encode_manifest(chunk_ids: Sequence[int]) -> bytes:
    """A body's manifest: its chunk ids as little-endian 64-bit integers."""
    return struct.pack(f"<{len(chunk_ids)}q", *chunk_ids)


def decode_manifest(manifest: bytes) -> list[int]:
    """The chunk ids of a manifest, in order."""
    return [chunk_id for (chunk_id,) in _ID.iter_unpack(manifest)]


def assemble(chunk_ids: Iterable[int], chunk_data: Mapping[int, bytes], size: int) -> bytes:
    """The body made of `chunk_ids`, from decompressed chunks.

    Raises:
        CorruptContent: a chunk is missing, or the result is not `size` bytes long.
    """
    try:
        body = b"".join([chunk_data[chunk_id] for chunk_id in chunk_ids])
    except KeyError as error:
        raise CorruptContent(f"chunk {error.args[0]} is missing") from error
    if len(body) != size:
        raise CorruptContent(f"a body reassembled to {len(body)} bytes, expected {size}")
    return body
