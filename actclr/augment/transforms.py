"""Transforms by name, as used in view configurations."""
from __future__ import annotations

from collections.abc import Callable

from torch import Tensor

from actclr.augment.adain import skeleton_adain
from actclr.augment.axis_mask import axis_mask
from actclr.augment.blur import gaussian_blur
from actclr.augment.bone_shrink import bone_shrink
from actclr.augment.crop import temporal_crop
from actclr.augment.flip import spatial_flip
from actclr.augment.mix import skeleton_mix_view
from actclr.augment.noise import gaussian_noise
from actclr.augment.rotate import rotate
from actclr.augment.shear import shear
from actclr.augment.speed import speed_resample
from actclr.augment.temporal_flip import temporal_flip

#: ``fn(x (N, C, T, V, M), g, **params) -> (N, C, T, V, M)``
Transform = Callable[..., Tensor]

TRANSFORMS: dict[str, Transform] = {
    "crop": temporal_crop,
    "shear": shear,
    "flip": spatial_flip,
    "temporal_flip": temporal_flip,
    "rotate": rotate,
    "axis_mask": axis_mask,
    "noise": gaussian_noise,
    "blur": gaussian_blur,
    "speed": speed_resample,
    "bone_shrink": bone_shrink,
    "adain": skeleton_adain,
    "mix": skeleton_mix_view,
}


def get_transform(name: str) -> Transform:
    """The transform registered as ``name``; ``KeyError`` listing the known names otherwise."""
    try:
        return TRANSFORMS[name]
    except KeyError:
        raise KeyError(f"unknown transform {name!r}; known: {', '.join(sorted(TRANSFORMS))}") from None
