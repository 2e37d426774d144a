"""Per-epoch metric logs: ``metrics.jsonl`` (one JSON object per epoch), ``metrics.csv`` (the same
rows, columns = union of keys) and TensorBoard scalars when ``tensorboard`` is installed.

Both files are rewritten atomically after every epoch. On resume, rows after the checkpoint's
epoch (written before an interruption, but not covered by the checkpoint) are dropped.
"""
from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping
from pathlib import Path

from actclr.store.atomic import write_bytes


def read_rows(path: Path) -> list:
    """Rows of a ``metrics.jsonl`` file (empty if absent); errors name the file and line."""
    if not path.is_file():
        return []
    rows = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if line.strip():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as err:
                raise ValueError(f"{path}:{number}: not a JSON object: {err}") from None
    return rows


def to_csv(rows: list) -> str:
    """Rows as CSV text, columns in first-seen order; missing values are empty cells."""
    columns: dict = {}
    for row in rows:
        columns.update(dict.fromkeys(row))
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(columns), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def _tensorboard_writer(log_dir: Path):
    """A ``SummaryWriter`` if TensorBoard is installed, else ``None``."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        return None
    return SummaryWriter(log_dir=str(log_dir))


class MetricsLog:
    """Epoch rows for one run directory; only the process with ``enabled=True`` writes."""

    def __init__(self, run_dir: str | Path, enabled: bool = True, resume_epoch: int = 0,
                 tensorboard: bool = True) -> None:
        self.run_dir = Path(run_dir)
        self.enabled = enabled
        self.jsonl = self.run_dir / "metrics.jsonl"
        self.csv = self.run_dir / "metrics.csv"
        self.rows = [r for r in read_rows(self.jsonl) if r.get("epoch", 0) <= resume_epoch] if enabled else []
        self._tb = _tensorboard_writer(self.run_dir / "tensorboard") if enabled and tensorboard else None

    def log(self, row: Mapping) -> None:
        """Append one epoch row (must contain ``epoch``) and rewrite the files."""
        if not self.enabled:
            return
        row = dict(row)
        self.rows.append(row)
        write_bytes(self.jsonl, "".join(json.dumps(r, sort_keys=False) + "\n" for r in self.rows).encode())
        write_bytes(self.csv, to_csv(self.rows).encode())
        if self._tb is not None:
            for key, value in row.items():
                if isinstance(value, (int, float)) and key != "epoch":
                    self._tb.add_scalar(key, value, row["epoch"])
            self._tb.flush()

    def close(self) -> None:
        if self._tb is not None:
            self._tb.close()
