"""Writing a user's file never leaves half of one, and refuses bad paths in one line."""

import os

import pytest

from core.errors import GdsimError
from core.files import check_writable, write_text_atomic


def test_write_replaces_whole_file_and_leaves_no_temp(tmp_path):
    target = tmp_path / "out.json"
    target.write_text("old")
    write_text_atomic(target, "new contents\n")
    assert target.read_text() == "new contents\n"
    assert sorted(os.listdir(tmp_path)) == ["out.json"]


def test_failed_write_keeps_the_old_file(tmp_path, monkeypatch):
    target = tmp_path / "session.json"
    target.write_text("precious")

    def broken_replace(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(GdsimError, match="No space left"):
        write_text_atomic(target, "x" * 1000, "--out")
    assert target.read_text() == "precious"
    assert sorted(os.listdir(tmp_path)) == ["session.json"]  # temp file cleaned up


def test_symlink_target_is_replaced_not_the_link(tmp_path):
    real = tmp_path / "real.txt"
    real.write_text("a")
    link = tmp_path / "link.txt"
    link.symlink_to(real)
    write_text_atomic(link, "b")
    assert link.is_symlink() and real.read_text() == "b"


@pytest.mark.parametrize("make", ["dir", "missing_folder"])
def test_bad_paths_are_refused_in_one_line(tmp_path, make):
    path = tmp_path if make == "dir" else tmp_path / "nope" / "f.json"
    with pytest.raises(GdsimError) as err:
        check_writable(path, "--metrics")
    assert "\n" not in str(err.value) and "--metrics" in str(err.value)
