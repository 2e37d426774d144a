"""The base of the errors a prepared dataset can cause when it is read."""
from __future__ import annotations


class DatasetError(ValueError):
    """A prepared dataset (or its location) is malformed, unsafe or corrupted; the message names
    the file and what is wrong. Subclasses: ``UnsafePathError``, ``MemberError``,
    ``DigestMismatchError``, ``CorruptShardError``."""
