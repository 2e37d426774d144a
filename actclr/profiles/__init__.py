"""Normalization profiles: raw parsed skeletons -> model-ready ``(3, 50, 25, 2)`` tensors.

``get_profile(name, **params)`` builds a profile; ``list_profiles()`` names them. A profile's
``params`` dict is recorded in the prepared dataset (see ``docs/profiles.md``).
"""
from __future__ import annotations

import dataclasses

from actclr.profiles.base import Prepared, Profile
from actclr.profiles.sgn import Sgn
from actclr.profiles.stgcn50 import Stgcn50

#: Registry of profile classes by name.
PROFILES: dict[str, type[Profile]] = {cls.name: cls for cls in (Stgcn50, Sgn)}
#: The profile used when none is named: the preprocessing of the published ActCLR numbers.
DEFAULT_PROFILE = Stgcn50.name


def list_profiles() -> list[str]:
    """Names of the available profiles, the default first."""
    return [DEFAULT_PROFILE] + sorted(n for n in PROFILES if n != DEFAULT_PROFILE)


def settable_params(name: str) -> list[str]:
    """The parameters of profile ``name`` that ``get_profile`` accepts (its dataclass fields), sorted."""
    return sorted(f.name for f in dataclasses.fields(PROFILES[name]))


def get_profile(name: str = DEFAULT_PROFILE, /, **params) -> Profile:
    """Build profile ``name`` with ``params`` (keys of its ``params`` dict that are settable).

    A recorded ``params`` dict round-trips: its fixed entries are accepted when they hold the
    fixed value. Raises ``ValueError`` for an unknown name, an unknown parameter, a fixed one with
    another value, or a bad value.
    """
    if name not in PROFILES:
        raise ValueError(f"unknown profile {name!r}; available: {', '.join(list_profiles())}")
    cls = PROFILES[name]
    for key in set(params) & set(cls.FIXED):
        if params.pop(key) != cls.FIXED[key]:
            raise ValueError(f"profile {name}: {key} is fixed to {cls.FIXED[key]!r}")
    settable = settable_params(name)
    unknown = sorted(set(params) - set(settable))
    if unknown:
        raise ValueError(f"profile {name}: unknown parameter(s) {unknown}; settable: {settable}")
    return cls(**params)


__all__ = ["DEFAULT_PROFILE", "PROFILES", "Prepared", "Profile", "get_profile", "list_profiles", "settable_params"]
