"""The official weight initialisation (``processor/pretrain.py``, spec section 3)."""
from __future__ import annotations

from torch import nn


def init_weights(module: nn.Module) -> None:
    """In place, over all submodules: conv/linear weights N(0, 0.02) with zero bias; batch-norm
    weights N(1, 0.02) with zero bias. Other parameters (edge importance: ones) are left alone."""
    for m in module.modules():
        if isinstance(m, (nn.Conv1d, nn.Conv2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.modules.batchnorm._BatchNorm) and m.affine:
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)
