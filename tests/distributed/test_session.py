"""The trainer's loop is a plain one-process loop; what differs under torchrun is asked of its
session (workbench/train/distributed_session.py), and only there."""
from __future__ import annotations

import threading
from collections import Counter

import torch

from tests.train.conftest import blobs, project_for
from workbench.train import distributed_session as S
from workbench.train import trainer as trainer_module


class Recording(S.Local):
    """A one-process session that counts what the loop asks of it."""

    def __init__(self):
        self.calls = Counter()

    def __getattribute__(self, name):
        if not name.startswith("_") and name != "calls" and callable(getattr(S.Local, name, None)):
            object.__getattribute__(self, "calls")[name] += 1
        return object.__getattribute__(self, name)


def test_the_loop_asks_its_session_and_trains_like_before(monkeypatch):
    torch.set_num_threads(1)
    data = blobs(n=120)
    project = project_for(data, epochs=3, batch_size=16)
    plain = trainer_module.Trainer(project, data, save=False).run()
    recording = Recording()
    monkeypatch.setattr(trainer_module, "session_for", lambda ctx: recording)
    t = trainer_module.Trainer(project, data, save=False)
    result = t.run()
    assert result.ok and t.session is recording
    a, b = plain.model.module.state_dict(), result.model.module.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)          # the same numbers through the seam
    assert result.summary["test"] == plain.summary["test"] and "distributed" not in result.summary
    calls = recording.calls
    assert calls["device"] == 1 and calls["wrap"] == 1 and calls["describe"] == 1
    assert calls["epoch_batches"] == 3 and calls["agree_stop"] == 3 and calls["mean"] == 3
    assert calls["eval_piece"] == calls["reduce"] == 3 + 3   # val each epoch; train/val/test at the end
    assert calls["summary"] == 1 and calls["release"] == 1
    t.stop()
    assert calls["request_stop"] == 1 and t.stopping


class _Ctx:
    """The parts of distributed.Context a session uses, without a process group."""
    rank, world_size, backend, is_main, device = 1, 2, "gloo", False, torch.device("cpu")

    def __init__(self, votes=(), digests=("a", "a")):
        self.votes, self.digests, self.asked = list(votes), list(digests), []

    def any(self, flag):
        self.asked.append(flag)
        return self.votes.pop(0) if self.votes else flag

    def weight_digests(self, module):
        return self.digests

    def __str__(self):
        return "rank 1/2"


def test_a_distributed_stop_is_agreed_before_it_takes_effect():
    ctx = _Ctx(votes=[False, True])
    session = S.session_for(ctx)
    stop, go = threading.Event(), threading.Event()
    session.request_stop(stop, go)
    assert not stop.is_set() and session.stop_wanted.is_set()   # asked here, not agreed yet
    assert session.agree_stop(stop) is False and not stop.is_set()   # the other rank said no
    assert session.agree_stop(stop) is True and stop.is_set()
    assert session.agree_stop(stop) is True and ctx.asked == [True, True]   # once stopped: no vote
    assert (session.seed_offset, session.world_size, session.is_main) == (100_003, 2, False)
    assert session.describe(torch.device("cpu"), 16) == ("cpu x 2 processes (gloo)",
                                                         "16 per process (32 in all)")


def test_the_summary_says_when_ranks_end_with_different_weights():
    module = torch.nn.Linear(2, 1)
    same = S.session_for(_Ctx()).summary(module, 8)
    assert same == ({"world_size": 2, "backend": "gloo", "batch_per_process": 8,
                     "weights_identical": True}, "")
    entry, warning = S.session_for(_Ctx(digests=("a", "b"))).summary(module, 8)
    assert entry["weights_identical"] is False and warning == "warning: the ranks' final weights differ"
    local = S.session_for(None)
    assert local.summary(module, 8) == (None, "") and local.shard_rows(7) == 7 and local.mean(0.5, 3) == 0.5
    assert S.session_for(_Ctx()).abandoned(KeyboardInterrupt()).startswith("KeyboardInterrupt on rank 1/2")
