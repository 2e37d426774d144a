"""Batched, device-side skeleton augmentations (MATS) for ``(N, C, T, V, M)`` batches.

Every transform is ``fn(x, g, **params) -> Tensor`` and draws its per-sample parameters from
the generator ``g`` on ``x.device``; the linear ones also expose ``fn.effects`` (the drawn maps,
which views apply fused). See ``docs/augmentations.md``.
"""
from actclr.augment.adain import skeleton_adain
from actclr.augment.axis_mask import axis_mask
from actclr.augment.blur import gaussian_blur
from actclr.augment.bone_shrink import bone_shrink
from actclr.augment.combine import actionlet_combine, upsample_mask
from actclr.augment.crop import temporal_crop
from actclr.augment.effects import AddNoise, AxisMap, CoordMap, Effect, apply_fused, apply_in_turn
from actclr.augment.flip import spatial_flip
from actclr.augment.inputs import STREAMS, to_stream
from actclr.augment.mix import CUTMIX, MIXUP, RESIZEMIX, MixResult, skeleton_mix
from actclr.augment.noise import gaussian_noise
from actclr.augment.partner import partner_index
from actclr.augment.presets import aimclr_views, official_config, official_curriculum, official_views
from actclr.augment.rotate import rotate
from actclr.augment.shear import shear
from actclr.augment.speed import speed_resample
from actclr.augment.temporal_flip import temporal_flip
from actclr.augment.transforms import TRANSFORMS, Transform, get_transform
from actclr.augment.views import AugmentConfigError, Augmenter, Stage, Step, build_augmenter

__all__ = [
    "AddNoise", "AugmentConfigError", "Augmenter", "AxisMap", "CUTMIX", "CoordMap", "Effect", "MIXUP",
    "MixResult", "RESIZEMIX", "STREAMS", "Stage", "Step", "TRANSFORMS", "Transform", "actionlet_combine",
    "aimclr_views",
    "apply_fused", "apply_in_turn", "axis_mask", "bone_shrink",
    "build_augmenter", "gaussian_blur", "gaussian_noise", "get_transform", "official_config",
    "official_curriculum", "official_views", "partner_index", "rotate", "shear", "skeleton_adain",
    "skeleton_mix", "spatial_flip", "speed_resample", "temporal_crop", "temporal_flip",
    "to_stream", "upsample_mask",
]
