"""``actclr-data synth``: write a synthetic raw dataset in the real file formats."""
from __future__ import annotations

import click

from actclr import registry
from actclr.cli.lists import NumberList


@click.command("synth")
@click.argument("out_raw", type=click.Path(file_okay=False))
@click.option("--dataset", type=click.Choice(registry.dataset_names()), default="ntu60", show_default=True,
              help="Which raw dataset to imitate (names, formats, splits, two-person classes).")
@click.option("--classes", type=click.IntRange(min=1), default=None,
              help="Generate the first N classes (default: all classes of the dataset).")
@click.option("--actions", type=NumberList(what="action numbers", skip_blanks=True, minimum=1,
                                           noun="action number (A001 = 1)"), default=None, metavar="LIST",
              help="Generate these classes instead: 1-based action numbers (A001 = 1), comma-separated, "
                   "e.g. 1,3,5,7,13,15,16,18.")
@click.option("--per-class", type=click.IntRange(min=2), default=8, show_default=True,
              help="Samples (NTU) or labelled instances (PKU-MMD) per class.")
@click.option("--seed", type=int, default=0, show_default=True, help="Same seed, same bytes.")
@click.option("--zip", "archives", is_flag=True,
              help="Write the official archive names (NTU) or <folder>.zip (PKU-MMD) instead of folders.")
@click.option("--nuisance", type=click.FloatRange(min=0.0), default=0.0, show_default=True,
              help="Difficulty (NTU): each sample also moves a random body part its class leaves still, "
                   "with this fraction of that part's class amplitude (0 = off).")
@click.option("--tilt", type=click.FloatRange(min=0.0), default=0.0, show_default=True,
              help="Viewpoint difficulty (NTU): tilt each sample's camera by a pitch and a roll drawn "
                   "uniformly from [-TILT, TILT] degrees (0 = horizontal cameras, as in NTU).")
@click.option("--force", is_flag=True, help="Write into a non-empty OUT_RAW.")
def synth(out_raw: str, dataset: str, classes: int | list[int] | None, actions: tuple | None, per_class: int, seed: int,
          archives: bool, force: bool, nuisance: float, tilt: float) -> None:
    """Generate a synthetic DATASET-like raw tree in OUT_RAW, with OUT_RAW/ground_truth.json."""
    from rich.console import Console
    from rich.table import Table

    from actclr.synth import generate

    if actions is not None:
        if classes is not None:
            raise click.UsageError("give --classes or --actions, not both")
        classes = [number - 1 for number in actions]  # 0-based labels
    try:
        summary = generate(out_raw, dataset, classes=classes, per_class=per_class, seed=seed, archives=archives,
                           force=force, nuisance=nuisance, tilt=tilt)
    except (ValueError, FileExistsError) as error:
        raise click.ClickException(str(error)) from None
    table = Table(title=f"synthetic {dataset} -> {out_raw}", show_header=False)
    for key in ("classes", "per_class", "files", "videos", "samples", "frames", "empty_files",
                "spurious_body_files", "seconds", "files_per_minute"):
        if key in summary:
            table.add_row(key.replace("_", " "), str(summary[key]))
    for archive in summary["archives"]:
        table.add_row("archive", archive)
    Console().print(table)
