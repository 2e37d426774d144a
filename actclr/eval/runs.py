"""One function per evaluation command: open the session, run the protocol, write ``out``.

Each ``*_run(options, out, ...)`` is what ``actclr-train <command>`` does after parsing its
options: it opens a :class:`actclr.eval.session.Session`, runs the protocol, writes
``out/metrics.json`` and ``out/summary.md`` (plus the protocol's files, see
:mod:`actclr.eval.outputs`) and returns the ``metrics.json`` content. ``progress(phase, done,
total)`` sees the feature passes and the classifier epochs.
"""
from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from actclr.eval.actionlets import MaskOptions, actionlet_evaluation
from actclr.eval.finetune import finetune_evaluation
from actclr.eval.knn import KNN_KS, KNN_TEMPERATURE, PRIMARY_K, knn_evaluation
from actclr.eval.linear import linear_evaluation
from actclr.eval.outputs import Stopwatch, write_run
from actclr.eval.protocol import Evaluated
from actclr.eval.recipes import FINETUNE_RECIPE, LINEAR_RECIPE, SGDRecipe
from actclr.eval.segmentation import segmentation_evaluation
from actclr.eval.session import Session, SessionError, SessionOptions, open_session
from actclr.store.atomic import atomic_path

Progress = Callable[[str, int, int], None]


def _epochs(progress: Progress | None, epochs: int) -> Callable[[dict], None] | None:
    """An ``on_epoch`` callback that reports the classifier's epochs to ``progress``."""
    if progress is None:
        return None
    return lambda row: progress("classifier epochs", row["epoch"], epochs)


def _region_title(command: str, region: str) -> str:
    """``command``, with the pooled region named unless it is the whole skeleton (paper Fig. 3)."""
    return command if region == "whole" else f"{command}, {region.replace('_', '-')} region"


def _finish(out: str | os.PathLike, session: Session, command: str, title: str, knobs: dict, headline: dict,
            evaluated: Evaluated, clock: Stopwatch) -> dict:
    """Write a classifier's ``metrics.json``, summary and test logits; return the metrics."""
    metrics = session.metrics(command, title, knobs, headline, evaluated.results, evaluated.notes, clock.elapsed)
    write_run(out, metrics, logits=evaluated.logits, keys=evaluated.keys, labels=evaluated.labels)
    return metrics


def linear_run(options: SessionOptions, out: str | os.PathLike, *, recipe: SGDRecipe = LINEAR_RECIPE,
               feature: str = "backbone", val_fraction: float = 0.1, feature_batch_size: int = 256,
               region: str = "whole", progress: Progress | None = None) -> dict:
    """``actclr-train linear``: :func:`actclr.eval.linear.linear_evaluation`, test logits saved."""
    clock = Stopwatch()
    s = open_session(options, progress)
    evaluated = linear_evaluation(s.encoder, s.dataset, s.benchmark, stream=s.stream, device=s.device,
                                  recipe=recipe, feature=feature, val_fraction=val_fraction, seed=options.seed,
                                  feature_batch_size=feature_batch_size, workers=options.workers,
                                  on_epoch=_epochs(progress, recipe.epochs), progress=progress, region=region)
    knobs = {**recipe.to_dict(), "val_fraction": val_fraction, "seed": options.seed, "feature": feature,
             "region": region, "checkpoint": options.checkpoint}
    return _finish(out, s, "linear", s.title(_region_title("linear evaluation", region)), knobs,
                   {"linear top-1": evaluated.results["top1"]}, evaluated, clock)


def knn_run(options: SessionOptions, out: str | os.PathLike, *, ks: Sequence[int] = KNN_KS,
            primary_k: int = PRIMARY_K, temperature: float = KNN_TEMPERATURE, feature: str = "backbone",
            batch_size: int = 256, region: str = "whole", progress: Progress | None = None) -> dict:
    """``actclr-train knn``: :func:`actclr.eval.knn.knn_evaluation`, the primary k's scores saved."""
    if primary_k not in ks:
        raise SessionError(f"--primary-k {primary_k} is not among --k {','.join(map(str, ks))}")
    clock = Stopwatch()
    s = open_session(options, progress)
    evaluated = knn_evaluation(s.encoder, s.dataset, s.benchmark, stream=s.stream, device=s.device, ks=tuple(ks),
                               t=temperature, primary_k=primary_k, feature=feature, batch_size=batch_size,
                               workers=options.workers, progress=progress, region=region)
    knobs = {"k": list(ks), "primary_k": primary_k, "temperature": temperature, "feature": feature,
             "region": region, "seed": options.seed, "checkpoint": options.checkpoint}
    return _finish(out, s, "knn", s.title(_region_title(f"kNN (k={primary_k})", region)), knobs,
                   {"kNN top-1": evaluated.results["top1"]}, evaluated, clock)


def finetune_run(options: SessionOptions, out: str | os.PathLike, *, recipe: SGDRecipe = FINETUNE_RECIPE,
                 label_fraction: float = 1.0, val_fraction: float = 0.1, progress: Progress | None = None) -> dict:
    """``actclr-train finetune``: :func:`actclr.eval.finetune.finetune_evaluation` (semi-supervised
    with ``label_fraction`` < 1), test logits saved."""
    clock = Stopwatch()
    s = open_session(options, progress)
    evaluated = finetune_evaluation(s.encoder, s.dataset, s.benchmark, stream=s.stream, device=s.device,
                                    recipe=recipe, label_fraction=label_fraction, val_fraction=val_fraction,
                                    seed=options.seed, workers=options.workers,
                                    on_epoch=_epochs(progress, recipe.epochs), progress=progress)
    knobs = {**recipe.to_dict(), "label_fraction": label_fraction, "val_fraction": val_fraction,
             "seed": options.seed, "checkpoint": options.checkpoint}
    name = "finetune" if label_fraction == 1.0 else f"semi {label_fraction:.0%}"
    return _finish(out, s, "finetune", s.title(f"fine-tuning ({name} labels)"), knobs,
                   {f"{name} top-1": evaluated.results["top1"]}, evaluated, clock)


def segment_run(options: SessionOptions, out: str | os.PathLike, *, recipe: SGDRecipe = LINEAR_RECIPE,
                window: int = 50, stride: int = 10, val_fraction: float = 0.2, feature_batch_size: int = 256,
                progress: Progress | None = None) -> dict:
    """``actclr-train segment``: :func:`actclr.eval.segmentation.segmentation_evaluation`; also writes
    ``out/predictions.npz`` (per-frame predictions of every test video)."""
    clock = Stopwatch()
    s = open_session(options, progress)
    if s.dataset.videos_path is None:
        raise SessionError(f"{options.data}: no videos.h5; segmentation needs a prepared PKU-MMD dataset")
    segmented = segmentation_evaluation(s.encoder, s.dataset, s.benchmark, stream=s.stream, device=s.device,
                                        window=window, stride=stride, recipe=recipe, val_fraction=val_fraction,
                                        seed=options.seed, batch_size=feature_batch_size,
                                        on_epoch=_epochs(progress, recipe.epochs), progress=progress)
    r = segmented.results
    knobs = {**recipe.to_dict(), "window": window, "stride": stride, "val_fraction": val_fraction,
             "seed": options.seed, "checkpoint": options.checkpoint}
    headline = {"ACC": r["acc"], "MACC": r["macc"], "FWIoU": r["fwiou"], "mIoU": r["miou"]}
    metrics = s.metrics("segment", s.title("action segmentation"), knobs, headline, r, segmented.notes,
                        clock.elapsed)
    Path(out).mkdir(parents=True, exist_ok=True)
    with atomic_path(Path(out) / "predictions.npz") as tmp, open(tmp, "wb") as f:
        np.savez_compressed(f, **segmented.predictions)
    write_run(out, metrics)
    return metrics


def actionlet_run(options: SessionOptions, out: str | os.PathLike, *, keys: Sequence[str] = (), pictures: int = 4,
                  ground_truth: str | os.PathLike | None = None, masks: MaskOptions | None = None,
                  batch_size: int = 64) -> dict:
    """``actclr-train actionlet``: :func:`actclr.eval.actionlets.actionlet_evaluation` (masks,
    pictures and, with ``ground_truth``, the score); ``masks``: the method's defaults unless given."""
    masks = masks or MaskOptions()
    clock = Stopwatch()
    s = open_session(options)
    results, notes = actionlet_evaluation(s.encoder, s.dataset, s.benchmark, out, stream=s.stream, device=s.device,
                                          encoder_name=s.encoder_info["name"], keys=keys, pictures=pictures,
                                          ground_truth=ground_truth, options=masks, batch_size=batch_size,
                                          workers=options.workers)
    score = results.get("score")
    headline = ({"actionlet lift": score["lift"]} if score is not None
                else {"actionlet mask mean": results["mean_mask"]})
    knobs = {"smoothing": masks.smoothing, "activation": masks.activation, "threshold": masks.threshold,
             "seed": options.seed, "checkpoint": options.checkpoint, "keys": list(keys),
             "ground_truth": str(ground_truth) if ground_truth else None}
    metrics = s.metrics("actionlet", s.title("actionlets"), knobs, headline, results, notes, clock.elapsed)
    write_run(out, metrics)
    return metrics
