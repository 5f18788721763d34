"""modelzoo.files: every file is written under a temp name and renamed into place, so a failure
leaves the old content (or nothing), never a half-written file."""

import pytest
from PIL import Image

from modelzoo import files


def test_write_json_replaces_the_old_file_and_leaves_no_temp(tmp_path):
    path = tmp_path / "deep" / "report.json"
    files.write_json(path, {"accuracy": 0.5})
    files.write_json(path, {"accuracy": 0.9})
    assert path.read_text() == '{\n  "accuracy": 0.9\n}\n'
    assert [p.name for p in path.parent.iterdir()] == ["report.json"]


def test_a_failing_writer_keeps_the_old_file_and_removes_its_temp(tmp_path):
    path = files.write_text(tmp_path / "table.md", "old\n")
    with pytest.raises(RuntimeError), files.replacing(path) as tmp:
        tmp.write_text("half of the ne")
        raise RuntimeError("killed mid-write")
    assert path.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["table.md"]


def test_the_temp_name_keeps_the_suffix_writers_choose_formats_by(tmp_path):
    path = tmp_path / "grid.png"
    with files.replacing(path) as tmp:
        assert tmp.suffix == ".png" and tmp.parent == tmp_path and tmp != path
        Image.new("RGB", (4, 4), "red").save(tmp)  # PIL picks PNG from the suffix
    assert Image.open(path).format == "PNG"


def test_a_folder_replaces_an_old_folder_whole(tmp_path):
    path = tmp_path / "savedmodel"
    for version in ("1", "2"):
        with files.replacing(path) as tmp:
            tmp.mkdir()
            (tmp / f"v{version}.pb").write_text(version)
    assert [p.name for p in path.iterdir()] == ["v2.pb"]
    assert [p.name for p in tmp_path.iterdir()] == ["savedmodel"]
