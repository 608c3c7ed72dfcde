"""Project files: canonical round trip, atomic saves, and one clean line for every bad file."""
from __future__ import annotations

import json
import os

import pytest

from workbench.core import Project, ProjectError, load, save
from workbench.core import templates
from workbench.core.project import loads


@pytest.fixture
def project():
    p = templates.build("text-classifier", templates.DataShape((40,), "int64", 5000, "classification", 10))
    p.data = {"path": "data/train.txt", "test_path": "data/test.txt", "target": "label"}
    p.description = "Debian package descriptions → archive section"
    return p


def test_load_save_is_byte_identical(tmp_path, project):
    first = save(project, tmp_path / "a.wbproj")
    again = save(load(first), tmp_path / "b.wbproj")
    assert first.read_bytes() == again.read_bytes()
    reloaded = load(again)
    assert reloaded.graph.to_dict() == project.graph.to_dict()
    assert reloaded.training == project.training and reloaded.data == project.data
    assert reloaded.description == project.description


def test_unknown_keys_and_node_types_survive_a_round_trip(tmp_path, project):
    doc = project.to_dict()
    doc["future_feature"] = {"x": 1}
    doc["graph"]["nodes"].append({"id": "n99", "type": "FancyPluginLayer", "title": "fancy",
                                  "params": {"k": 3}, "pos": [1.5, 2.0]})
    path = tmp_path / "p.wbproj"
    path.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    p = load(path)
    save(p, tmp_path / "q.wbproj")
    assert (tmp_path / "q.wbproj").read_text() == path.read_text()


def test_save_is_atomic_and_leaves_no_temp_files(tmp_path, project, monkeypatch):
    path = save(project, tmp_path / "p.wbproj")
    before = path.read_bytes()
    project.name = "changed"

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError):
        save(project, path)
    assert path.read_bytes() == before
    assert [f.name for f in tmp_path.iterdir()] == ["p.wbproj"]


def test_save_gives_the_permissions_a_plain_write_would(tmp_path, project):
    old = os.umask(0o022)
    try:
        path = save(project, tmp_path / "p.wbproj")
        assert path.stat().st_mode & 0o777 == 0o644        # not mkstemp's private 0600
        path.chmod(0o640)
        save(project, path)
        assert path.stat().st_mode & 0o777 == 0o640        # an existing file keeps its own
    finally:
        os.umask(old)


def test_save_as_elsewhere_rebases_relative_data_paths(tmp_path, project):
    save(project, tmp_path / "one" / "p.wbproj")
    moved = load(tmp_path / "one" / "p.wbproj")
    save(moved, tmp_path / "two" / "deeper" / "p.wbproj")
    assert moved.data["path"] == os.path.join("..", "..", "one", "data", "train.txt")


@pytest.mark.parametrize("content, message", [
    (b"", "p.wbproj: the file is empty"),
    (b'{"format_version": 1, "graph": {"nodes": [', "p.wbproj: line 1, column 43: the file ends early (truncated?)"),
    (b"{'format_version': 1}", "p.wbproj: line 1, column 2: not valid JSON (Expecting property name enclosed in double quotes)"),
    (b"\x89PNG\r\n\x1a\n\x00\x00", "p.wbproj: not a project file (byte 0x89 at offset 0 is not UTF-8 text)"),
    (b'{"name": "x"}', "p.wbproj: not a Workbench project (no 'format_version')"),
    (b'{"format_version": 7}', "p.wbproj: written by a newer Workbench (format 7; this version reads up to 2): update Workbench to open it"),
    (b'{"format_version": 1, "graph": {"nodes": [{"id": "n1", "type": "Linear", "title": "fc", "params": {"out_features": "ten"}}]}}',
     "p.wbproj: graph.nodes[0] ('fc').params: 'out_features' must be a whole number, not 'ten'"),
    (b'{"format_version": 1, "graph": {"nodes": [{"id": "n1", "type": "ReLU"}], "edges": [{"from": ["n1", "out"], "to": ["n7", "in"]}]}}',
     "p.wbproj: graph.edges[0]: node 'n7' does not exist"),
    (b'{"format_version": 1, "graph": {"nodes": [{"id": "n1", "type": "ReLU", "title": "a"}, {"id": "n2", "type": "ReLU", "title": "b"}], "edges": [{"from": ["n1", "out"], "to": ["n2", "in"]}, {"from": ["n2", "out"], "to": ["n1", "in"]}]}}',
     "p.wbproj: graph.edges[1]: connecting ReLU 'b' to ReLU 'a' would make a cycle"),
    (b'{"format_version": 1, "graph": {"nodes": {}}}', "p.wbproj: graph.nodes: expected a list, got {}"),
])
def test_bad_files_give_one_line(tmp_path, content, message):
    path = tmp_path / "p.wbproj"
    path.write_bytes(content)
    with pytest.raises(ProjectError) as err:
        load(path)
    assert str(err.value) == f"{tmp_path}/{message}"
    assert "\n" not in str(err.value)


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(ProjectError, match="no such file"):
        load(tmp_path / "nope.wbproj")
    with pytest.raises(ProjectError, match="is a folder"):
        load(tmp_path)


def test_loading_never_executes_anything(tmp_path):
    marker = tmp_path / "pwned"
    doc = {"format_version": 1, "name": f"__import__('os').system('touch {marker}')",
           "graph": {"nodes": [{"id": "n1", "type": "Reshape", "title": "r",
                                "params": {"shape": f"__import__('os').system('touch {marker}')"}}]}}
    with pytest.raises(ProjectError):
        loads(json.dumps(doc))
    doc["graph"]["nodes"][0]["params"] = {}
    p = loads(json.dumps(doc))
    assert p.name.startswith("__import__") and not marker.exists()
