"""The shard member vocabulary and its safe decoders (the one owner of what a shard may hold).

A shard sample is the tar members ``<key>.<member>`` sharing one key, with ``member`` one of
:data:`MEMBERS`. Each has a decoder that cannot run code: ``.npy`` through numpy's header parser
without pickles, ``cls`` as ASCII digits, ``json`` as UTF-8 JSON. Any other member (``.pyd``,
``.pickle``, ``.pth``, an unknown extension, a name without one) is refused by
:func:`split_member` before its bytes are read.
"""
from __future__ import annotations

import functools
import io
import json
import math
import re

import numpy as np

from actclr.store.errors import DatasetError

SKELETON, LABEL, META = "skeleton.npy", "cls", "json"
#: Largest member accepted (a ready tensor is 30 KB at 50 frames; 16 MiB leaves room for long profiles).
MAX_MEMBER_BYTES = 16 << 20
_KEY = re.compile(r"[^/.\x00-\x1f]+")


class MemberError(DatasetError):
    """A tar member outside the vocabulary, or one whose content its decoder refuses."""


@functools.lru_cache(maxsize=16)
def _npy_layout(header: bytes) -> tuple[tuple[int, ...], bool, np.dtype]:
    """``(shape, fortran_order, dtype)`` of an ``.npy`` header, parsed by numpy.

    Cached: every sample of a split has the same header, and numpy's parser (``ast.literal_eval``)
    would otherwise cost several times the copy of the 30 KB tensor.
    """
    stream = io.BytesIO(header)
    version = np.lib.format.read_magic(stream)
    read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
    shape, fortran, dtype = read_header(stream)
    if dtype.hasobject:
        raise ValueError("object arrays (pickles) are not allowed")
    return shape, fortran, dtype


def read_npy(data: bytes) -> np.ndarray:
    """The array in ``.npy`` bytes (read-only view of ``data``; versions 1-3, no pickles)."""
    prefix = 10 if data[6:7] == b"\x01" else 12  # magic (6) + version (2) + header length (2 or 4)
    end = prefix + int.from_bytes(data[8:prefix], "little")
    shape, fortran, dtype = _npy_layout(bytes(data[:end]))
    array = np.frombuffer(data, dtype=dtype, count=math.prod(shape), offset=end)
    return array.reshape(shape, order="F" if fortran else "C")


def read_cls(data: bytes) -> int:
    """A 0-based label written as ASCII digits."""
    text = data.decode("ascii", errors="replace").strip()
    if not text.isdigit() or not text.isascii():
        raise ValueError(f"not a non-negative integer ({data[:20]!r})")
    return int(text)


def read_json(data: bytes) -> dict:
    """A UTF-8 JSON object."""
    value = json.loads(data.decode("utf-8"))
    if not isinstance(value, dict):
        raise ValueError(f"a JSON {type(value).__name__}, not an object")
    return value


#: member name -> safe decoder (bytes -> value).
MEMBERS = {SKELETON: read_npy, LABEL: read_cls, META: read_json}


def split_member(name: str, size: int) -> tuple[str, str]:
    """``(key, member)`` of the tar member ``name`` of ``size`` bytes; :class:`MemberError` if it is
    not ``<key>.<member>`` with ``member`` in :data:`MEMBERS` and at most :data:`MAX_MEMBER_BYTES`."""
    key, dot, member = name.partition(".")
    if not dot or not _KEY.fullmatch(key) or member not in MEMBERS:
        raise MemberError(f"member {name!r} is not one of the shard members <key>.{{{', '.join(MEMBERS)}}}; "
                          "refused without reading it")
    if size > MAX_MEMBER_BYTES:
        raise MemberError(f"member {name!r} has {size} bytes, more than the {MAX_MEMBER_BYTES} allowed")
    return key, member


def decode_members(sample: dict) -> dict:
    """``sample`` with every member's bytes replaced by its decoded value (``MemberError`` names the member)."""
    decoded = dict(sample)
    for member, decode in MEMBERS.items():
        if member in sample:
            try:
                decoded[member] = decode(sample[member])
            except Exception as exn:  # any decoder failure is a malformed member
                raise MemberError(f"sample {sample.get('__key__')!r}: {member} is malformed ({exn})") from exn
    return decoded
