"""Writing a user's file never leaves half of one, and refuses bad paths in one line."""

import os
import time

import pytest

from core.errors import GdsimError
from core.files.atomic import STALE_SECONDS, check_regular, check_writable, write_text_atomic


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


def test_a_read_only_file_is_kept_as_the_shell_keeps_it(tmp_path):
    target = tmp_path / "handout.json"
    target.write_text("precious")
    target.chmod(0o444)  # read-only even for its owner (root writes through the bits: not here)
    with pytest.raises(GdsimError, match="read-only") as info:
        write_text_atomic(target, "new")
    assert str(target) in str(info.value) and "\n" not in str(info.value)
    assert target.read_text() == "precious" and os.stat(target).st_mode & 0o777 == 0o444
    assert sorted(os.listdir(tmp_path)) == ["handout.json"]
    with pytest.raises(GdsimError, match="read-only"):
        check_writable(target, "--out")  # refused before minutes of work, too


def test_stale_temp_files_of_ours_are_removed_when_the_folder_is_written(tmp_path):
    """A writer killed mid-save leaves its ``.gdsim-XXXXXXXX.tmp``: the next write there
    removes it once it is old; a live writer's fresh file and anyone else's files stay."""
    old = time.time() - STALE_SECONDS - 60
    stale = tmp_path / ".gdsim-ab12cd34.tmp"
    fresh = tmp_path / ".gdsim-ef56gh78.tmp"
    theirs = [tmp_path / ".gdsim-notes.tmp", tmp_path / "ab12cd34.tmp", tmp_path / "x.tmp"]
    for path in [stale, fresh, *theirs]:
        path.write_text("left")
    for path in [stale, *theirs]:
        os.utime(path, (old, old))
    write_text_atomic(tmp_path / "session.json", "{}")
    assert not stale.exists()
    assert fresh.exists() and all(p.exists() for p in theirs)


def test_a_fifo_is_refused_without_being_opened(tmp_path):
    fifo = tmp_path / "settings.ini"
    os.mkfifo(fifo)  # os.stat only: opening it would block until a writer comes
    with pytest.raises(GdsimError, match="not a regular file"):
        check_regular(fifo, "settings file", missing_ok=True)
    assert check_regular(tmp_path / "missing.ini", "settings file", missing_ok=True) is None
    with pytest.raises(GdsimError, match="it is a folder"):
        check_regular(tmp_path, "settings file", missing_ok=True)
