"""``actclr-train ensemble``: weighted sum of per-stream test logits (3s-ActCLR)."""
from __future__ import annotations

from pathlib import Path

import click

from actclr.cli.lists import NumberList


@click.command("ensemble")
@click.argument("runs", nargs=-1, required=True, type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--weights", type=NumberList(float, "numbers"),
              help="One weight per RUN, comma-separated; default: by stream, joint 0.6, bone 0.6, motion 0.4 "
                   "(official).")
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path), help="Output directory.")
def ensemble(runs: tuple, weights: tuple | None, out: Path) -> None:
    """Ensemble linear/finetune RUNs of the same test split (e.g. joint, motion and bone streams)."""
    from actclr.eval.ensemble import ensemble_name, ensemble_runs, load_run
    from actclr.eval.report import Stopwatch, print_run, write_run

    clock = Stopwatch()
    members = [load_run(run) for run in runs]
    try:
        results, logits = ensemble_runs(members, weights)
    except ValueError as err:
        raise click.UsageError(str(err)) from None
    first = members[0].metrics
    streams = "+".join(str(m.stream) for m in members)
    combined = ensemble_name([m.stream for m in members])
    names = sorted({(m.metrics.get("encoder") or {}).get("name") for m in members}, key=str)
    encoder = {"name": "+".join(map(str, names)), "source": [str(m.path) for m in members]}
    data = first.get("data", {})
    title = f"ensemble {combined} ({streams}) on {data.get('name')}/{data.get('benchmark')}"
    metrics = {"command": "ensemble", "title": title,
               "wall_time_s": clock.elapsed, "encoder": encoder, "data": data, "stream": streams,
               "knobs": {"weights": [m["weight"] for m in results["members"]], "runs": [str(r) for r in runs]},
               "headline": {f"{combined} top-1": results["top1"]},
               "notes": [f"{m['stream']} x {m['weight']:g} (top-1 {m['top1']:.2f})" for m in results["members"]
                         if m["top1"] is not None], **results}
    write_run(out, metrics, logits=logits, keys=members[0].keys, labels=members[0].labels)
    print_run(metrics, out)
