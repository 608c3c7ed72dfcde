"""Run folders are files from anyone too: a run reader never hangs, recurses or raises."""
import json
import os

import pytest

from workbench.train import checkpoint, runs


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def test_read_run_survives_a_deeply_nested_summary_and_event_log(tmp_path):
    (tmp_path / "summary.json").write_text(_nested(100_000))
    good = json.dumps({"kind": "epoch", "epoch": 1, "step": 3})
    (tmp_path / "metrics.jsonl").write_text(good + "\n" + _nested(100_000) + "\n")
    record = runs.read_run(tmp_path, events=True)
    assert record.summary == {}
    assert [e["epoch"] for e in record.epochs] == [1]
    assert any("nested more than 200 levels deep" in w for w in record.warnings), record.warnings
    assert any("line 2 is not a JSON event" in w for w in record.warnings), record.warnings


def test_fifos_in_a_run_folder_are_refused_not_opened(tmp_path):
    for name in ("summary.json", "metrics.jsonl", "best.pt", "best.json"):
        os.mkfifo(tmp_path / name)
    record = runs.read_run(tmp_path, events=True)  # would block forever if a FIFO were opened
    assert record.summary == {} and record.epochs == []
    assert len([w for w in record.warnings if "named pipe" in w]) == 2, record.warnings
    with pytest.raises(checkpoint.CheckpointError, match=r"best\.pt: is a named pipe"):
        checkpoint.load_checkpoint(tmp_path)


def test_a_nested_checkpoint_description_is_one_line(tmp_path):
    import torch
    torch.save({"w": torch.zeros(2)}, tmp_path / "best.pt")
    (tmp_path / "best.json").write_text(_nested(5000))
    with pytest.raises(checkpoint.CheckpointError) as err:
        checkpoint.load_checkpoint(tmp_path)
    assert str(err.value) == f"{tmp_path / 'best.json'}: unreadable (nested more than 200 levels deep: not a file Workbench wrote)"
