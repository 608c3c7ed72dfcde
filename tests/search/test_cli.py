"""`workbench search` as a user runs it: separate processes, killed, resumed, side by side."""
from __future__ import annotations

import json
import signal

import pytest

from tests.search.helpers import searched_project, workbench
from workbench.cli import main
from workbench.core import project as project_file
from workbench.search import open_study, records


def finished(path, name="iris"):
    return [t for t in trials_of(path, name) if t.state in ("complete", "pruned")]


def trials_of(path, name="iris"):
    study = open_study(project_file.load(path), name=name)
    return [] if study is None else records(study)


def wait_for(proc, check, what: str):
    """Poll the study until `check()` holds (no sleeps: the study is read between polls)."""
    import time
    deadline = time.monotonic() + 240
    while not check():
        assert proc.poll() is None, f"the search ended before {what}: {proc.communicate()}"
        assert time.monotonic() < deadline, f"no {what} in 240 s"
        time.sleep(0.05)


def test_a_killed_search_resumes_without_redoing_finished_trials(tmp_path):
    path = searched_project(tmp_path, epochs=30)
    proc = workbench("search", path, "--trials", 5, "--pruner", "none")
    wait_for(proc, lambda: len(finished(path)) >= 2, "two finished trials")
    proc.kill()                                   # no clean-up at all: SIGKILL
    proc.communicate()
    before = {t.number: (t.params, t.values) for t in finished(path)}
    stamps = {n: (tmp_path / "runs/search-iris" / f"trial-{n}" / "summary.json").stat().st_mtime_ns
              for n in before}
    again = workbench("search", path, "--trials", 5, "--pruner", "none", "--json")
    out, err = again.communicate(timeout=600)
    assert again.returncode == 0, err
    study = json.loads(out)
    states = {t["number"]: t["state"] for t in study["trials"]}
    assert sum(s in ("complete", "pruned") for s in states.values()) == 5
    for n, (params, values) in before.items():    # kept as they were, not trained again
        trial = next(t for t in study["trials"] if t["number"] == n)
        assert (trial["params"], trial["values"]) == (params, values)
        assert (tmp_path / "runs/search-iris" / f"trial-{n}" / "summary.json").stat().st_mtime_ns == stamps[n]
    orphans = [t for t in study["trials"] if t["state"] == "failed"]
    if orphans:   # killed in the middle of a trial: marked failed, its place taken by a new one
        assert all(t["reason"].startswith("its worker (pid ") for t in orphans)
        assert "were left running by a worker that ended" in err


def test_ctrl_c_stops_cleanly_and_keeps_finished_trials(tmp_path):
    path = searched_project(tmp_path, epochs=3)
    first = workbench("search", path, "--trials", 1, "--pruner", "none")
    assert first.wait(timeout=300) == 0, first.communicate()
    # the resumed study's trials cannot end on their own before the signal comes, however
    # slow the machine: the signal always lands in the middle of trial 1
    proc = workbench("search", path, "--trials", 6, "--pruner", "none", "--epochs", 1_000_000)
    wait_for(proc, lambda: any(t.number >= 1 and t.state == "running" for t in trials_of(path)),
             "a second trial running")
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    assert "stopping: the trial in progress ends after its current batch" in err
    trials = records(open_study(project_file.load(path)))
    assert trials[0].state == "complete"
    assert trials[-1].state == "failed"
    assert trials[-1].reason == "interrupted: it runs again when the study resumes"
    assert "best: trial " in out          # the table of what finished is still printed


def test_two_processes_sharing_a_journal_finish_n_trials_between_them(tmp_path):
    path = searched_project(tmp_path, epochs=3)
    journal = tmp_path / "shared.journal"
    procs = [workbench("search", path, "--trials", 6, "--storage", journal, "--seed", seed)
             for seed in (1, 2)]
    outs = [p.communicate(timeout=600) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    study = open_study(project_file.load(path), storage=str(journal))
    trials = records(study)
    done = [t for t in trials if t.state in ("complete", "pruned")]
    assert len(done) == 6
    assert len({t.number for t in trials}) == len(trials)
    # each finished trial was trained once, into its own folder
    folders = sorted(p.name for p in (tmp_path / "runs/search-iris").iterdir())
    assert [f"trial-{t.number}" for t in sorted(done, key=lambda t: t.number)
            if t.folder] == [f for f in folders if (tmp_path / "runs/search-iris" / f / "summary.json").exists()]
    workers = {study.trials[t.number].user_attrs["worker"] for t in trials}
    assert len(workers) <= 2
    # the baseline was enqueued once, by whichever worker started the study
    assert sum(bool(t.user_attrs.get("baseline")) for t in study.trials) == 1


def test_workers_flag_runs_k_processes_on_a_sqlite_study(tmp_path):
    path = searched_project(tmp_path, epochs=2)
    db = tmp_path / "study.db"
    proc = workbench("search", path, "--trials", 4, "--workers", 2, "--storage", f"sqlite:///{db}")
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err
    trials = records(open_study(project_file.load(path), storage=f"sqlite:///{db}"))
    assert sum(t.state in ("complete", "pruned") for t in trials) == 4
    assert "best: trial " in out


def test_apply_writes_the_trials_project(tmp_path, capsys):
    path = searched_project(tmp_path, epochs=2)
    assert main(["search", str(path), "--trials", "2"]) == 0
    trial = records(open_study(project_file.load(path)))[1]
    out_file = tmp_path / "best.wbproj"
    capsys.readouterr()
    assert main(["search", str(path), "--apply", "1", "--out", str(out_file)]) == 0
    applied = project_file.load(out_file)
    trained = project_file.load(tmp_path / trial.folder / "project.wbproj")
    assert applied.graph.to_dict() == trained.graph.to_dict()
    assert capsys.readouterr().out.startswith(f"wrote {out_file}: trial 1's values lr=")
    assert main(["search", str(path), "--apply", "1"]) == 2
    assert capsys.readouterr().err == "error: --apply N needs --out FILE (the project file to write)\n"


@pytest.mark.parametrize("args, message", [
    (["--list"], "error: {path}: no study named 'iris' in {journal}"),
    (["--trials", "0"], "error: --trials must be at least 1"),
    (["--log", "wandb"], "error: --log wandb: unknown tracker; choose tensorboard or mlflow"),
    (["--storage", "postgresql://nobody@127.0.0.1:1/none"],
     "error: --storage postgresql://nobody@127.0.0.1:1/none: postgresql needs a database driver: "
     "pip install psycopg2-binary"),
    (["--objective", "val_r2"], "error: objective 'val_r2' is not measured for classification; "
                                "choose val_loss or val_accuracy"),
])
def test_bad_requests_get_one_line(tmp_path, capsys, args, message):
    path = searched_project(tmp_path, epochs=1)
    assert main(["search", str(path), *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith(message.format(path=path, journal=path.with_suffix(".search.journal"))), err
    assert len(err.strip().splitlines()) == 1
