"""Run outputs, the gathered table and the pictures of ``actclr-train report``."""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from matplotlib.image import imread

from actclr.cli.train import cli
from actclr.eval.outputs import gather, markdown_table, read_metrics, summary_markdown, write_run


def _eval_run(root, name, encoder, headline, wall, stream="joint"):
    metrics = {"command": name.split("-")[0], "title": name, "wall_time_s": wall, "encoder": {"name": encoder},
               "data": {"name": "ntu60", "benchmark": "xsub"}, "stream": stream, "headline": headline,
               "knobs": {"lr": 24.0}, "notes": ["selected on validation"]}
    return write_run(root / name, metrics)


def _pretrain_run(root, name, epochs=3):
    run = root / name
    run.mkdir()
    rows = [{"epoch": e, "loss": 5.0 - e, "epoch_time_s": 10.0, **({"knn_top1@5": 20.0 * e} if e % 2 else {})}
            for e in range(1, epochs + 1)]
    (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return run


def test_write_run_files_and_summary(tmp_path):
    out = _eval_run(tmp_path, "linear-a", "pre", {"linear top-1": 81.234}, 2.0)
    assert sorted(p.name for p in out.iterdir()) == ["metrics.json", "summary.md"]
    metrics = read_metrics(out)
    assert metrics["headline"] == {"linear top-1": 81.234} and "created" in metrics
    summary = (out / "summary.md").read_text()
    assert "| linear top-1 | 81.23 |" in summary and "selected on validation" in summary
    assert summary == summary_markdown(metrics)
    with pytest.raises(FileNotFoundError, match="metrics.json"):
        read_metrics(tmp_path)


def test_gather_one_row_per_encoder_with_times(tmp_path):
    runs = [_eval_run(tmp_path, "linear-p", "pre", {"linear top-1": 80.0}, 5.0),
            _eval_run(tmp_path, "knn-p", "pre", {"kNN top-1": 70.0}, 1.0),
            _eval_run(tmp_path, "linear-r", "random (seed 0)", {"linear top-1": 30.0}, 4.0),
            _eval_run(tmp_path, "linear-p2", "pre", {"linear top-1": 60.0}, 1.0, stream="bone"),
            _pretrain_run(tmp_path, "pre")]
    table = gather(runs)
    assert table.columns == ["encoder", "data", "stream", "linear top-1", "kNN top-1", "wall time (s)"]
    by = {(r["encoder"], r["stream"]): r for r in table.rows}
    assert by["pre", "joint"] == {"encoder": "pre", "data": "ntu60/xsub", "stream": "joint", "linear top-1": 80.0,
                                  "kNN top-1": 70.0, "wall time (s)": 36.0}  # 30 s pretraining + 5 + 1
    assert by["random (seed 0)", "joint"] == {"encoder": "random (seed 0)", "data": "ntu60/xsub", "stream": "joint",
                                              "linear top-1": 30.0, "wall time (s)": 4.0}
    assert by["pre", "bone"]["linear top-1"] == 60.0 and by["pre", "bone"]["wall time (s)"] == 31.0
    lines = markdown_table(table).splitlines()
    assert lines[0] == "| encoder | stream | linear top-1 | kNN top-1 | wall time (s) |"  # data is shared
    assert lines[2] == "| pre | joint | 80.00 | 70.00 | 36.00 |" and lines[-1] == "data: ntu60/xsub"


def test_report_command_writes_table_and_pictures(tmp_path):
    runs = [_eval_run(tmp_path, "linear-p", "pre", {"linear top-1": 80.0}, 5.0),
            _eval_run(tmp_path, "linear-r", "random (seed 0)", {"linear top-1": 30.0}, 4.0),
            _pretrain_run(tmp_path, "pre")]
    out = tmp_path / "report" / "report.md"
    out.parent.mkdir()
    result = CliRunner(env={"COLUMNS": "200"}).invoke(cli, ["report", *map(str, runs), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "80.00" in result.output and "random (seed 0)" in result.output
    text = out.read_text()
    assert "| pre | 80.00 | 35.00 |" in text and "data: ntu60/xsub, stream: joint" in text
    assert "![training_curves](training_curves.png)" in text
    for name in ("training_curves.png", "comparison.png"):
        image = imread(out.parent / name)
        assert image.ndim == 3 and min(image.shape[:2]) > 100 and image.std() > 0


def test_report_names_a_pretraining_run_the_collapse_guard_flagged(tmp_path):
    healthy, flagged = _pretrain_run(tmp_path, "healthy"), _pretrain_run(tmp_path, "flagged")
    rows = [json.loads(line) for line in (flagged / "metrics.jsonl").read_text().splitlines()]
    rows[1]["guard"] = "watch: key cosine rose from 0.800 to 0.860"
    rows[2]["guard"] = "collapsing: key cosine rose from 0.800 to 0.940; kNN monitor 24.0 is 23.0 points below"
    for row in rows:
        row["phase"] = "main"
    (flagged / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    runs = [_eval_run(tmp_path, "linear-f", "flagged", {"linear top-1": 5.6}, 1.0), healthy, flagged]
    out = tmp_path / "report.md"
    result = CliRunner(env={"COLUMNS": "300"}).invoke(cli, ["report", *map(str, runs), "--out", str(out)])
    assert result.exit_code == 0, result.output
    note = ("collapse guard: flagged: phase main collapsing from epoch 3: key cosine rose from 0.800 to 0.940; "
            "kNN monitor 24.0 is 23.0 points below")
    assert note in " ".join(result.output.split()) and f"- **{note}**" in out.read_text()
    assert "healthy:" not in result.output
