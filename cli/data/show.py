"""``actclr-data show``: draw one sample or a benchmark's average motion as a PNG."""
from __future__ import annotations

import difflib
from pathlib import Path

import click

from actclr.store import open_dataset
from actclr.store.hdf5 import open_h5, ragged_item


@click.command("show")
@click.argument("location")
@click.argument("key", required=False)
@click.option("--average", "benchmark", default=None, help="Draw this benchmark's average motion instead of a sample.")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="PNG to write.")
@click.option("--frames", default=8, show_default=True, type=click.IntRange(1, 64), help="Frames in the strip.")
@click.option("--raw", "raw", is_flag=True, help="Draw the raw camera-space bodies instead of the ready tensor.")
def show(location: str, key: str | None, benchmark: str | None, out: Path, frames: int, raw: bool) -> None:
    """Save a picture of sample KEY (or of --average BENCHMARK) of the dataset at LOCATION."""
    from actclr.viz import draw_average_motion, draw_skeleton_strip  # matplotlib: import only when drawing

    if (key is None) == (benchmark is None):
        raise click.UsageError("give either a sample KEY or --average BENCHMARK")
    try:
        ds = open_dataset(location)
    except (OSError, ValueError) as error:
        raise click.ClickException(f"cannot open {location}: {error}") from None
    if benchmark is not None:
        if benchmark not in ds.benchmarks:
            raise click.ClickException(f"no benchmark {benchmark!r}; the dataset has {', '.join(ds.benchmarks)}")
        path = draw_average_motion(ds.average_motion(benchmark), out, num_frames=frames,
                                   title=f"{ds.info['name']} {benchmark}: average motion")
    else:
        keys = ds.manifest.column("key").to_pylist()
        if key not in keys:
            close = difflib.get_close_matches(key, keys, n=3)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise click.ClickException(f"no sample {key!r} in {location}{hint}")
        index = keys.index(key)
        with open_h5(ds.h5_path) as f:
            sample = ragged_item(f["raw"], index) if raw else f["ready"][index]
        label = ds.manifest.column("label")[index].as_py()
        path = draw_skeleton_strip(sample, out, num_frames=frames,
                                   title=f"{key}: {ds.info['class_names'][label]}" + (" (raw)" if raw else ""))
    click.echo(f"wrote {path}")
