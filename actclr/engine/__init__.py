"""Training engine: recipes, the torchrun-native pretraining loop, checkpoints and logs.

- ``config``: YAML recipes + ``--set`` overrides, validation, the effective config.
- ``dist``: torchrun environment, process group (gloo on CPU, NCCL on CUDA), device.
- ``checkpoint``: the training checkpoint and ``encoder.pt`` formats (atomic save, ``weights_only=True`` load).
- ``rng``: capture/restore of every random state.
- ``schedule``: per-step learning-rate schedules.
- ``log``: per-epoch CSV/JSONL (+ TensorBoard) logs (``MetricsLog``, ``read_rows``).
- ``rundir``: the run directory (config, environment record).
- ``trainer``: the loop (``run_pretraining``, a ``Monitor`` handed in), used by ``actclr-train pretrain``.

See ``docs/training.md``. Submodules are imported explicitly (this package imports nothing, so
reading a recipe does not pull in the training stack).
"""
