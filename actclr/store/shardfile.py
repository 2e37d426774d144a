"""Read one WebDataset shard strictly: vocabulary checked before any byte of a member is read,
sha256 checked over the whole file as it streams, sample count checked against the index.

Used by the training stream (``actclr.data.ShardStream``) and by ``verify``. Members are
grouped into samples as webdataset does (consecutive members sharing the key before the first
``.`` of their name), but nothing is skipped silently: a non-file member or a member outside
:data:`actclr.store.members.MEMBERS` is an error.
"""
from __future__ import annotations

import tarfile
from collections.abc import Iterator

from actclr.store.errors import DatasetError
from actclr.store.members import MemberError, split_member
from actclr.store.streams import DigestMismatchError, HashingReader, open_location


class CorruptShardError(DatasetError):
    """A shard cannot be read, holds a refused member or differs from its sha256; the message
    starts with ``shard <location>:``."""


def _members(tar: tarfile.TarFile) -> Iterator[tuple[str, str, bytes]]:
    """``(key, member, bytes)`` of each tar member, checked against the vocabulary first."""
    for info in tar:
        if not info.isreg():
            raise MemberError(f"member {info.name!r} is not a regular file; refused")
        key, member = split_member(info.name, info.size)
        data = tar.extractfile(info)
        assert data is not None  # a regular file always has content
        yield key, member, data.read()
        tar.members = []  # type: ignore[attr-defined]  # a streamed tar would otherwise keep every header


def _samples(location: str, sha256: str | None) -> Iterator[dict]:
    """The raw samples of the shard, in order; with ``sha256`` the digest is checked at its end."""
    with HashingReader(open_location(location), sha256) as stream:
        sample: dict = {}
        with tarfile.open(fileobj=stream, mode="r|") as tar:  # type: ignore[call-overload]
            for key, member, data in _members(tar):
                if sample and key != sample["__key__"]:
                    yield sample
                    sample = {}
                if not sample:
                    sample = {"__key__": key, "__url__": location}
                if member in sample:
                    raise MemberError(f"sample {key!r}: duplicate member {member}")
                sample[member] = data
        stream.finish(f"shard {location}")
    if sample:
        yield sample


def _named_errors(location: str, samples: Iterator[dict]) -> Iterator[dict]:
    """``samples``, with every failure turned into a :class:`CorruptShardError` naming the shard."""
    count = 0
    try:
        for sample in samples:
            count += 1
            yield sample
    except DigestMismatchError as exn:
        raise CorruptShardError(str(exn)) from None
    except MemberError as exn:
        raise CorruptShardError(f"shard {location}: {exn}") from None
    except Exception as exn:  # unreadable file, broken tar
        text = exn.args[0] if exn.args else repr(exn)
        raise CorruptShardError(f"shard {location}: unreadable after {count} samples: "
                                f"{type(exn).__name__}: {text}") from exn


def _check_count(location: str, count: int, num_samples: int | None) -> None:
    if num_samples is not None and count != num_samples:
        raise CorruptShardError(f"shard {location}: read {count} samples but the index lists {num_samples} "
                                "(truncated or stale shard?)")


def read_shard(location: str, sha256: str | None = None, num_samples: int | None = None) -> Iterator[dict]:
    """Raw samples ``{"__key__", "__url__", member: bytes, ...}`` of the shard at ``location``.

    With ``sha256`` the whole shard is read and its digest (then its sample count) checked
    before the first sample is yielded, so no sample of a modified shard is ever used (memory:
    one shard per reader). Without, samples stream and ``num_samples`` is checked at the end.
    Every problem raises :class:`CorruptShardError`.
    """
    samples = _named_errors(location, _samples(location, sha256))
    if sha256 is not None:
        held = list(samples)
        _check_count(location, len(held), num_samples)
        yield from held
        return
    count = 0
    for sample in samples:
        count += 1
        yield sample
    _check_count(location, count, num_samples)
