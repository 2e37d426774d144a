"""Training engine: recipes, the torchrun-native pretraining loop, checkpoints and logs.

- ``config``: YAML recipes + ``--set`` overrides, validation, the effective config.
- ``dist``: torchrun environment, process group (gloo on CPU, NCCL on CUDA), device.
- ``checkpoint``: atomic full-state checkpoints loaded with ``weights_only=True``.
- ``rng``: capture/restore of every random state.
- ``schedule``: per-step learning-rate schedules.
- ``metrics``: per-epoch CSV/JSONL (+ TensorBoard) logs.
- ``monitor``: kNN monitor on a held-out part of the training split.
- ``run``: the run directory (config, environment record).
- ``trainer``: the loop (``run_pretraining``), used by ``actclr-train pretrain``.

See ``docs/training.md``. Submodules are imported explicitly (this package imports nothing, so
reading a recipe does not pull in the training stack).
"""
