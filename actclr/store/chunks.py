"""Compressed HDF5 chunks made outside the HDF5 library, for h5py's direct chunk write.

``prepare``'s workers compress the chunks of the tensor datasets themselves, with the filters the
store declares (byte shuffle, then zlib deflate at :data:`GZIP_LEVEL`: the bytes HDF5 itself
writes for ``compression="gzip", shuffle=True``), and the writer stores them as they are
(``write_direct_chunk``), so the main process never compresses.

A dataset that grows along axis 0 is chunked every :attr:`Layout.rows` rows counted from the start
of the dataset. A piece of it that starts at row ``start`` (known once the earlier pieces are
known) completes the chunk its predecessor left open: :meth:`Layout.cut` takes that remainder
and the piece's rows and returns the whole chunks and the new remainder, the rows after the last
chunk boundary; :meth:`Layout.encode` compresses the whole chunks. The last piece also closes
its remainder, zero-padded to a full chunk (what HDF5 stores for an edge chunk).
"""
from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np

#: zlib level of every compressed tensor dataset (``actclr.store.hdf5.COMPRESSION``): 1, since
#: levels 2-6 save under 2% of ``skeletons.h5`` for 25-100% more deflate CPU (docs/data-format.md).
GZIP_LEVEL = 1


def encode_chunk(block: np.ndarray) -> bytes:
    """The stored bytes of one full chunk ``block``: HDF5's byte shuffle, then zlib deflate."""
    block = np.ascontiguousarray(block)
    size = block.dtype.itemsize
    shuffled = block.reshape(-1).view(np.uint8).reshape(-1, size).T.tobytes() if size > 1 else block.tobytes()
    return zlib.compress(shuffled, GZIP_LEVEL)


def decode_chunk(data: bytes, shape: tuple, dtype) -> np.ndarray:
    """The chunk ``shape`` of ``dtype`` stored as ``data`` (the inverse of :func:`encode_chunk`)."""
    dtype = np.dtype(dtype)
    raw = np.frombuffer(zlib.decompress(data), np.uint8)
    return np.ascontiguousarray(raw.reshape(dtype.itemsize, -1).T).view(dtype).reshape(shape)


@dataclass(frozen=True)
class Piece:
    """Encoded chunks ``first, first + 1, ...`` of a dataset that has ``end`` rows once they are stored."""

    first: int
    chunks: list
    end: int


@dataclass(frozen=True)
class Layout:
    """A compressed dataset ``(N, *row_shape)`` of ``dtype`` chunked every ``rows`` rows."""

    name: str
    row_shape: tuple
    dtype: str
    rows: int

    @property
    def chunk_shape(self) -> tuple:
        return (self.rows, *self.row_shape)

    def empty(self) -> np.ndarray:
        """No rows: the remainder at the start of the dataset."""
        return np.zeros((0, *self.row_shape), self.dtype)

    def cut(self, carry: np.ndarray, data: np.ndarray, last: bool) -> tuple[np.ndarray, np.ndarray]:
        """``(whole chunks, remainder)`` of ``carry`` (the rows since the last chunk boundary)
        followed by ``data``: the leading ``k * rows`` rows and the rest. With ``last`` the
        remainder is closed too (zero-padded to a whole chunk) and the returned remainder is empty."""
        rows = np.concatenate([carry, np.asarray(data, self.dtype)]) if len(carry) else np.asarray(data, self.dtype)
        full = len(rows) // self.rows * self.rows
        if not last or full == len(rows):
            return rows[:full], rows[full:]
        blocks = np.zeros((full + self.rows, *self.row_shape), self.dtype)
        blocks[:len(rows)] = rows
        return blocks, self.empty()

    def encode(self, blocks: np.ndarray) -> list:
        """The stored bytes of each chunk of ``blocks`` (``k * rows`` rows)."""
        return [encode_chunk(blocks[lo:lo + self.rows]) for lo in range(0, len(blocks), self.rows)]
