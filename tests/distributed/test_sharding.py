"""The pieces of workbench.train.distributed that need no second process: sharding, pieces,
digests, settings, and a one-process group (Gloo on 127.0.0.1) that must train exactly like
the single-process loop."""
from __future__ import annotations

import socket
import threading

import pytest
import torch

from tests.train.conftest import blobs, project_for
from workbench.train import distributed as D


def ctx(rank: int, world: int) -> D.Context:
    return D.Context(rank, world, rank, torch.device("cpu"), "gloo", 10.0)


class _Split:
    def __init__(self, n):
        self.x = torch.arange(n).float().unsqueeze(1)
        self.y = torch.arange(n)


def _shards(n, world, batch, seed=0, epochs=1):
    """Rows each rank trains on, per epoch, with `any` stubbed out (no process group)."""
    out = []
    gens = [torch.Generator().manual_seed(seed) for _ in range(world)]
    for _ in range(epochs):
        epoch = []
        for r in range(world):
            c = ctx(r, world)
            c.any = lambda flag: False
            rows = [int(v) for _, y in c.train_batches(_Split(n), batch, gens[r], threading.Event(),
                                                       threading.Event()) for v in y]
            epoch.append(rows)
        out.append(epoch)
    return out


@pytest.mark.parametrize("n,world,batch", [(10, 2, 3), (11, 2, 4), (7, 3, 2), (2, 4, 1), (105, 4, 16)])
def test_shards_cover_the_split_like_distributed_sampler(n, world, batch):
    (epoch,) = _shards(n, world, batch)
    per_rank = -(-n // world)
    assert all(len(rows) == per_rank for rows in epoch)          # same steps on every rank
    seen = [v for rows in epoch for v in rows]
    assert set(seen) == set(range(n))                            # every row, once plus padding
    assert len(seen) - len(set(seen)) == per_rank * world - n
    if per_rank * world == n:
        assert sorted(seen) == list(range(n))                    # disjoint shards


def test_shards_reshuffle_each_epoch_with_the_shared_seed():
    a, b = _shards(20, 2, 5, seed=3, epochs=2)
    assert a != b
    assert _shards(20, 2, 5, seed=3, epochs=2) == [a, b]
    # one process sees the same order as workbench.data.batches with that generator
    from workbench.data import batches
    (one,) = _shards(20, 1, 5, seed=3)
    split = _Split(20)
    assert one[0] == [int(v) for _, y in batches(split, 5, True, torch.Generator().manual_seed(3)) for v in y]


def test_eval_pieces_cover_once():
    split = _Split(11)
    pieces = [ctx(r, 3).eval_piece(split) for r in range(3)]
    assert torch.equal(torch.cat([p.y for p in pieces]), split.y)


def test_digest_and_settings(monkeypatch):
    a, b = torch.nn.Linear(3, 2), torch.nn.Linear(3, 2)
    b.load_state_dict(a.state_dict())
    assert D.weights_digest(a) == D.weights_digest(b)
    with torch.no_grad():
        b.bias[0] += 1e-7
    assert D.weights_digest(a) != D.weights_digest(b)
    monkeypatch.setenv(D.TIMEOUT_ENV, "7.5")
    assert D.timeout_s() == 7.5
    monkeypatch.setenv(D.TIMEOUT_ENV, "soon")
    with pytest.raises(D.DistributedError, match="WORKBENCH_DIST_TIMEOUT"):
        D.timeout_s()
    assert D.pick_device("cpu", 3).type == "cpu"
    with pytest.raises(D.DistributedError, match="MPS"):
        D.pick_device("mps", 0)


def test_setup_outside_torchrun_says_how(monkeypatch):
    for key in ("RANK", "WORLD_SIZE"):
        monkeypatch.delenv(key, raising=False)
    with pytest.raises(D.DistributedError, match="torchrun --nproc_per_node"):
        D.setup("cpu")


def test_cli_distributed_outside_torchrun(monkeypatch, tmp_path, capsys, iris_project):
    for key in ("RANK", "WORLD_SIZE"):
        monkeypatch.delenv(key, raising=False)
    from workbench.cli import main
    assert main(["train", str(iris_project), "--distributed", "--out", str(tmp_path / "r")]) == 2
    assert "torchrun" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_one_process_group_trains_exactly_like_the_single_process_loop(monkeypatch):
    from workbench.train.trainer import Trainer
    torch.set_num_threads(1)
    data = blobs(n=200)
    project = project_for(data, epochs=4, batch_size=16)
    single = Trainer(project, data, save=False).run()
    monkeypatch.setenv("RANK", "0")
    monkeypatch.setenv("LOCAL_RANK", "0")
    monkeypatch.setenv("WORLD_SIZE", "1")
    monkeypatch.setenv("MASTER_ADDR", "127.0.0.1")
    monkeypatch.setenv("MASTER_PORT", str(_free_port()))
    monkeypatch.setenv("GLOO_SOCKET_IFNAME", "lo")
    with D.session("cpu", timeout=20) as c:
        assert (c.rank, c.world_size, c.backend) == (0, 1, "gloo")
        multi = Trainer(project, data, save=False, distributed=c).run()
        c.ok = True
    assert not torch.distributed.is_initialized()
    assert single.ok and multi.ok, (single.message, multi.message)
    a, b = single.model.module.state_dict(), multi.model.module.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    for split in ("train", "val", "test"):
        assert multi.summary[split] == single.summary[split]
    assert multi.summary["distributed"] == {"world_size": 1, "backend": "gloo", "batch_per_process": 16,
                                            "weights_identical": True}
