"""The official ActCLR view set and augmentation curriculum (actclr-spec section 5.1), and AimCLR's
extreme view (section 10)."""
from __future__ import annotations

from typing import Any

from actclr.augment.views import BASE_TRANSFORMS


def _weak() -> list[dict[str, Any]]:
    return [{"name": "crop", "pad": 8, "mode": "shift", "padding": "symmetric"},
            {"name": "shear", "amplitude": 0.5}]


def _spatial(noise_std: float) -> list[dict[str, Any]]:
    return [{"name": "flip", "p": 0.5, "mirror": False},
            {"name": "rotate", "max_angle": 30.0, "minor_angle": 1.0, "symmetric": False},
            {"name": "noise", "std": noise_std, "p": 0.5},
            {"name": "blur", "taps": 15, "sigma": [0.1, 2.0], "p": 0.5, "normalize": False,
             "padding": "zeros"},
            {"name": "axis_mask", "p": 0.5}]


def official_views() -> dict[str, list[dict[str, Any]]]:
    """``weak`` (data3/data4), ``normal`` (data2) and ``extreme`` (data1) with the official
    parameters, in the official fixed order. The blur is the official one: unnormalised kernel,
    zero padding (inherited from AimCLR). Every call returns fresh, YAML-safe lists and dicts."""
    return {
        "weak": _weak(),
        "normal": _weak() + _spatial(0.01),
        "extreme": _weak() + _spatial(0.05) + [{"name": "speed", "factor": [0.5, 1.5], "p": 0.5},
                                               {"name": "bone_shrink", "scale": 0.5}],
    }


def aimclr_views() -> dict[str, list[dict[str, Any]]]:
    """AimCLR's extreme view (``Levigty/AimCLR:feeder/ntu_feeder.py`` ``_strong_aug``, spec section
    10): crop, shear, flip, rotate, noise 0.01, blur, axis mask, the official parameters and order.
    Its steps are those of ActCLR's ``normal`` view, under its own name so that ActCLR's curriculum
    (which thins ``normal`` after epoch 100) leaves it whole. AimCLR's normal view (crop, shear) is
    ``weak``."""
    return {"aimclr_extreme": _weak() + _spatial(0.01)}


def official_curriculum() -> list[dict[str, Any]]:
    """Epochs 1-100 all transforms; 101-200 keep 3/5 (normal) and 5/7 (extreme); 201-300 keep
    1/5 and 3/7; 301-350 nothing, not even crop and shear."""
    return [{"after_epoch": 100, "keep": {"normal": 3, "extreme": 5}},
            {"after_epoch": 200, "keep": {"normal": 1, "extreme": 3}},
            {"after_epoch": 300, "keep": {"normal": 0, "extreme": 0}, "base": "off"}]


def official_config(seed: int = 0) -> dict[str, Any]:
    """A complete configuration for :func:`build_augmenter` with the official views (ActCLR's and
    AimCLR's extreme view) and ActCLR's curriculum."""
    return {"views": {**official_views(), **aimclr_views()}, "curriculum": official_curriculum(),
            "base": list(BASE_TRANSFORMS), "seed": seed}
