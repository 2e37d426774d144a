"""``actclr-train actionlet``: actionlet masks of a trained encoder, pictures and a ground-truth score."""
from __future__ import annotations

from pathlib import Path

import click

from actclr.cli.train.evaluation import encoder_options, finish, run_metrics, setup, title_of


@click.command("actionlet")
@encoder_options
@click.option("--keys", multiple=True, help="Samples to extract and draw (repeatable); default: the test split.")
@click.option("--pictures", type=click.IntRange(min=0), default=4, show_default=True,
              help="Without --keys: draw the first test sample of this many classes.")
@click.option("--ground-truth", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="ground_truth.json of synthetic raw data (actclr-data synth): score the masks.")
@click.option("--smoothing", type=click.Choice(["graph", "parts", "none"]), default="graph", show_default=True,
              help="graph: skeleton adjacency (paper Eq. 5); parts: body-part mean (official code).")
@click.option("--activation", type=click.Choice(["threshold", "gain_clip"]), default="threshold", show_default=True,
              help="threshold: binary mask at --threshold of the maximum (paper); gain_clip: official soft mask.")
@click.option("--threshold", type=click.FloatRange(0, 1), default=0.5, show_default=True)
@click.option("--batch-size", type=click.IntRange(min=1), default=64, show_default=True)
def actionlet(data: str, benchmark: str | None, checkpoint: str, out: Path, stream: str | None, device: str,
              seed: int, workers: int, model_config: str | None, bn_calibration: bool, keys: tuple,
              pictures: int, ground_truth: Path | None, smoothing: str, activation: str, threshold: float,
              batch_size: int) -> None:
    """Extract actionlets (difference against the average motion, paper Eq. 2-5) of test samples.

    Writes OUT/actionlets.h5 (masks (N, T, V, M), joint_masks (N, T, V), labels, keys),
    OUT/average_motion.png (paper Fig. 4), OUT/actionlet_<key>.png (Fig. 5) and OUT/metrics.json
    (with --ground-truth: share of mask mass on truly moving joints vs chance).
    """
    import numpy as np

    from actclr.eval.actionlets import (
        MaskOptions,
        extract_actionlets,
        read_ground_truth,
        score_actionlets,
        write_actionlets,
    )
    from actclr.eval.holdout import keys_of, labels_of
    from actclr.eval.report import Stopwatch
    from actclr.store.manifest import split_rows
    from actclr.viz import draw_average_motion, draw_skeleton_strip

    clock = Stopwatch()
    s = setup(data, benchmark, checkpoint, stream, device, seed, model_config, bn_calibration)
    manifest = s.dataset.manifest
    test_rows = split_rows(manifest, s.benchmark, "test")
    if keys:
        index = {k: i for i, k in enumerate(manifest.column("key").to_pylist())}
        unknown = [k for k in keys if k not in index]
        if unknown:
            raise click.UsageError(f"{data}: unknown sample key(s) {', '.join(unknown)}")
        rows = np.array(sorted(index[k] for k in keys), dtype=np.int64)
        drawn = rows
    else:
        rows = test_rows
        labels = labels_of(manifest, rows)
        firsts = [rows[np.flatnonzero(labels == c)[0]] for c in np.unique(labels)]
        drawn = np.array(firsts[:pictures], dtype=np.int64)
    options = MaskOptions(smoothing=smoothing, activation=activation, threshold=threshold)
    average = s.dataset.average_motion(s.benchmark)
    extracted = extract_actionlets(s.encoder, s.dataset.h5_path, rows, average, stream=s.stream, device=s.device,
                                   options=options, batch_size=batch_size, workers=workers)
    out.mkdir(parents=True, exist_ok=True)
    write_actionlets(out / "actionlets.h5", extracted)
    draw_average_motion(average, out / "average_motion.png",
                        title=f"Average motion ({s.dataset.info.get('name')}/{s.benchmark} training split)")
    names = s.dataset.info.get("class_names") or []
    position = {k: i for i, k in enumerate(extracted["keys"])}
    for key in keys_of(manifest, drawn):
        i = position[key]
        label = int(extracted["labels"][i])
        title = f"{key}: {names[label] if label < len(names) else label} (actionlet of {s.encoder_info['name']})"
        draw_skeleton_strip(extracted["x"][i], out / f"actionlet_{key}.png",
                            weights=extracted["masks"][i], title=title)
    results = {"samples": len(extracted["keys"]), "mean_mask": float(extracted["joint_masks"].mean()),
               "pictures": [f"actionlet_{k}.png" for k in keys_of(manifest, drawn)] + ["average_motion.png"]}
    headline = {"actionlet mask mean": results["mean_mask"]}
    notes = [f"masks: smoothing {smoothing}, activation {activation}, threshold {threshold:g}"]
    if ground_truth is not None:
        score = score_actionlets(extracted["joint_masks"], extracted["labels"], read_ground_truth(ground_truth))
        results["score"] = score
        headline = {"actionlet lift": score["lift"]}
        notes.append(f"{100 * score['share']:.1f} % of the mask mass on truly moving joints "
                     f"(chance {100 * score['chance']:.1f} %, lift x{score['lift']:.2f})")
    knobs = {"smoothing": smoothing, "activation": activation, "threshold": threshold, "seed": seed,
             "checkpoint": checkpoint, "keys": list(keys), "ground_truth": str(ground_truth) if ground_truth else None}
    metrics = run_metrics("actionlet", title_of("actionlets", s), s, knobs, headline, results, notes, clock.elapsed)
    finish(out, metrics)
