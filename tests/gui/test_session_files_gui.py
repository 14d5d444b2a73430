"""Session files through the real File menu: every bad file is a message and leaves the screen as
it was; every failed save is a message and leaves the file on disk as it was.

Driven through the real QActions (``actOpenSession``/``actSaveSession``) with
``QFileDialog.getOpenFileName``/``getSaveFileName`` answered by monkeypatching, as a user picking
a file would. A full disk and a read-only folder are simulated where the OS would report them
(``os.fsync``/``os.replace`` raising ENOSPC, ``mkstemp`` raising EACCES, ``os.access``): this
suite may run as root, for whom permission bits change nothing.
"""

from __future__ import annotations

import errno
import json
import os
import tempfile

import pytest
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QFileDialog, QMessageBox

from core.files.session import MAX_FILE_BYTES, VERSION, dumps_session
from tests.gui.helpers import QT_WARNINGS_FAIL
from tests.never_open import forbid_opening

pytestmark = QT_WARNINGS_FAIL


def act(window, name: str) -> QAction:
    found = window.findChild(QAction, name)
    assert found is not None, name
    return found


def screen(window) -> tuple:
    """What the user sees that a session could change."""
    sv = window.surface_view
    return (
        window.current_key(),
        sv.race.surface.name,
        sv.race.start,
        sv.race.t,
        tuple(str(e.runner.spec) for e in sv.entries.values()),
        tuple(e.runner.point for e in sv.entries.values()),
        window.training_view.controls.config(),
        window.sessions.banner.isVisible(),
        act(window, "actRevertSession").isEnabled(),
    )


def error_boxes(window) -> list[QMessageBox]:
    return [b for b in window.findChildren(QMessageBox, "sessionErrorBox") if b.isVisible()]


def open_file(window, monkeypatch, path) -> None:
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(path), ""))
    act(window, "actOpenSession").trigger()


def save_file(window, monkeypatch, path) -> None:
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(path), ""))
    act(window, "actSaveSession").trigger()


@pytest.fixture
def busy_window(window, qtbot):
    """A window with a session worth losing: a custom race stepped a few times."""
    sv = window.surface_view
    sv.set_surface("himmelblau")
    sv.add_runner("Adagrad(lr=0.3)")
    for _ in range(5):
        sv.step_once()
    window.training_view  # noqa: B018 - built, so its settings are part of the screen
    return window


def future_version() -> bytes:
    doc = {"format": "gdsim-session", "version": VERSION + 1, "view": "surfaces", "surfaces": {}}
    return json.dumps(doc).encode()


BAD_FILES = {
    "empty": (b"", "empty"),
    "truncated": (b'{"format": "gdsim-session", "version": 1, "view": "surf', "truncated"),
    "binary": (bytes(range(256)) * 16, ""),
    "utf16": ('{"format": "gdsim-session"}'.encode("utf-16"), ""),
    "future-version": (future_version(), "newer"),
    "not-a-session": (b'{"hello": "world"}', ""),
    "nan": (b'{"format": "gdsim-session", "version": 1, "x": NaN}', ""),
    "deep": (b"[" * 5000 + b"]" * 5000, ""),
    "import-path": (
        b'{"format": "gdsim-session", "version": 1, "view": "surfaces", "surfaces": '
        b'{"surface": "bowl", "runners": [{"spec": "os:system"}]}}',
        "",
    ),
}


def test_opening_a_bad_file_says_why_and_changes_nothing(busy_window, monkeypatch, tmp_path):
    """One window, every kind of bad file in turn (a window per file costs seconds)."""
    window = busy_window
    before = screen(window)
    for kind, (content, word) in sorted(BAD_FILES.items()):
        path = tmp_path / f"{kind}.json"
        path.write_bytes(content)
        open_file(window, monkeypatch, path)
        (box,) = error_boxes(window)
        assert box.windowTitle() == "Cannot open session" and path.name in box.text(), kind
        assert word in box.text().lower(), (kind, box.text())
        assert "\n" not in box.text() and path.name in window.statusBar().currentMessage()
        assert screen(window) == before, kind
        assert path.read_bytes() == content  # opening never writes
        box.close()


def test_a_huge_file_is_refused_before_it_is_read(busy_window, monkeypatch, tmp_path):
    window = busy_window
    path = tmp_path / "huge.json"
    with open(path, "wb") as fh:  # sparse: 12 MB on paper, nothing on disk
        fh.truncate(12 * 1024 * 1024)
    assert os.path.getsize(path) > 10 * MAX_FILE_BYTES
    reads = []
    real_open = open

    def spy(file, *args, **kwargs):
        if os.fspath(file) == str(path):
            reads.append(file)
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr("builtins.open", spy)
    before = screen(window)
    open_file(window, monkeypatch, path)
    (box,) = error_boxes(window)
    assert "huge.json" in box.text() and ("large" in box.text() or "big" in box.text())
    assert reads == []  # refused from its size alone
    assert screen(window) == before


def test_opening_something_that_is_not_a_file(busy_window, monkeypatch, tmp_path):
    window = busy_window
    before = screen(window)
    folder = tmp_path / "folder.json"
    folder.mkdir()
    fifo = tmp_path / "fifo.json"
    os.mkfifo(fifo)  # opening it would block the GUI until a writer comes: it must never be
    attempts = forbid_opening(monkeypatch, fifo)  # opened, and an attempt fails at once
    for path in (folder, tmp_path / "missing.json", fifo):
        open_file(window, monkeypatch, path)
        (box,) = error_boxes(window)
        assert path.name in box.text()
        assert screen(window) == before
        box.close()
    assert attempts == []


def test_a_file_that_is_not_regular_is_refused_in_one_plain_sentence(
    busy_window, monkeypatch, tmp_path
):
    """Not "cannot open session 'x': cannot open session x: not a regular file"."""
    window = busy_window
    folder = tmp_path / "folder.json"
    folder.mkdir()
    fifo = tmp_path / "fifo.json"
    os.mkfifo(fifo)  # refused from os.stat alone: never opened
    for path, why in ((folder, "it is a folder"), (fifo, "not a regular file")):
        open_file(window, monkeypatch, path)
        (box,) = error_boxes(window)
        assert box.text() == f"{path.name}: cannot open session {path}: {why}"
        box.close()


def test_a_cancelled_dialog_does_nothing(busy_window, monkeypatch):
    before = screen(busy_window)
    open_file(busy_window, monkeypatch, "")
    save_file(busy_window, monkeypatch, "")
    assert error_boxes(busy_window) == [] and screen(busy_window) == before


# --- saving -----------------------------------------------------------------------------------


@pytest.fixture
def existing(tmp_path):
    """A session file already on disk (from an earlier save) that a failed save must keep."""
    path = tmp_path / "lecture.json"
    path.write_text("precious earlier session\n", encoding="utf-8")
    return path


def assert_untouched(path, folder) -> None:
    assert path.read_text(encoding="utf-8") == "precious earlier session\n"
    assert sorted(os.listdir(folder)) == [path.name]  # no temporary file left behind


def full_disk_at_fsync(monkeypatch) -> None:
    def fsync(_fd):  # the data did not fit: the kernel says so at fsync
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", fsync)


def full_disk_at_replace(monkeypatch) -> None:
    def replace(_src, _dst):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "replace", replace)


def read_only_folder_mkstemp(monkeypatch) -> None:
    def mkstemp(*_a, **_k):  # what a read-only folder does to a non-root user
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(tempfile, "mkstemp", mkstemp)


def read_only_folder_access(monkeypatch) -> None:
    real = os.access
    monkeypatch.setattr(
        os, "access", lambda p, mode, **k: False if mode & os.W_OK else real(p, mode)
    )


def read_only_file_system(monkeypatch) -> None:
    def mkstemp(*_a, **_k):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(tempfile, "mkstemp", mkstemp)


FAILURES = {
    "full-disk-at-fsync": (full_disk_at_fsync, "no space"),
    "full-disk-at-rename": (full_disk_at_replace, "no space"),
    "read-only-folder": (read_only_folder_mkstemp, "permission denied"),
    "read-only-folder-checked-first": (read_only_folder_access, "cannot write"),
    "read-only-file-system": (read_only_file_system, "read-only"),
}


def test_a_failed_save_says_why_and_keeps_the_old_file(busy_window, monkeypatch, tmp_path):
    window = busy_window
    before = screen(window)
    for failure, (simulate, words) in sorted(FAILURES.items()):
        folder = tmp_path / failure
        folder.mkdir()
        existing = folder / "lecture.json"
        existing.write_text("precious earlier session\n", encoding="utf-8")
        with monkeypatch.context() as broken:
            simulate(broken)
            save_file(window, broken, existing)
        (box,) = error_boxes(window)
        assert box.windowTitle() == "Cannot save session", failure
        assert words in box.text().lower() and "\n" not in box.text(), (failure, box.text())
        assert_untouched(existing, folder)
        assert screen(window) == before
        box.close()
        # once the disk is fine again, the same save works and writes a whole session
        save_file(window, monkeypatch, existing)
        assert existing.read_text(encoding="utf-8") == dumps_session(window.current_session())
        assert sorted(os.listdir(folder)) == [existing.name]


def test_saving_over_a_read_only_file_is_refused_and_keeps_it(
    busy_window, monkeypatch, tmp_path, existing
):
    """As the shell refuses ``>`` over a 0444 file; replacing it (atomic rename) would both
    lose it and make it writable."""
    window = busy_window
    existing.chmod(0o444)
    save_file(window, monkeypatch, existing)
    (box,) = error_boxes(window)
    assert box.windowTitle() == "Cannot save session"
    assert box.text() == f"cannot write session {existing}: the file is read-only"
    assert_untouched(existing, tmp_path)
    assert existing.stat().st_mode & 0o777 == 0o444


def test_saving_with_invalid_training_settings_writes_nothing(
    busy_window, qtbot, monkeypatch, tmp_path, existing
):
    window = busy_window
    controls = window.training_view.controls
    controls.net.hidden_edit.setText("16,x")  # as typed, not yet valid
    dialogs = []
    monkeypatch.setattr(
        QFileDialog, "getSaveFileName", lambda *a, **k: dialogs.append(1) or (str(existing), "")
    )
    act(window, "actSaveSession").trigger()
    (box,) = error_boxes(window)
    assert "training settings" in box.text() and dialogs == []  # refused before asking where
    assert_untouched(existing, tmp_path)


def test_a_saved_file_opens_to_the_same_screen(busy_window, monkeypatch, tmp_path, qtbot):
    window = busy_window
    path = tmp_path / "round"
    save_file(window, monkeypatch, path)  # no suffix: ".json" is added
    saved = tmp_path / "round.json"
    assert saved.is_file() and error_boxes(window) == []
    before = screen(window)
    window.surface_view.set_surface("bowl")
    open_file(window, monkeypatch, saved)
    qtbot.waitUntil(lambda: not window.surface_view.model.replaying, timeout=10_000)
    after = screen(window)
    assert after[:7] == before[:7]  # same view, surface, start, steps, runners, points, config
    assert act(window, "actRevertSession").isEnabled()  # and the bowl can be brought back


def test_what_opening_ignored_stays_readable_in_the_status_bar(
    qtbot, window, monkeypatch, tmp_path
):
    """Unknown keys (a newer gdsim's file) are named with the "Opened" message, not written one
    after another and replaced at once."""
    doc = json.loads(dumps_session(window.current_session()))
    doc["foo"] = 1
    doc["surfaces"]["bar"] = 2
    doc["surfaces"]["runners"][0]["baz"] = 3
    path = tmp_path / "newer.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    open_file(window, monkeypatch, path)
    shown = window.statusBar().currentMessage()
    assert shown.startswith("Opened newer.json; note: ")
    for key in ("foo", "bar", "baz"):
        assert repr(key) in shown


def test_session_dialogs_start_at_the_last_file_also_after_a_restart(qtbot, tmp_path, monkeypatch):
    """Save and Open start where the last session was saved or opened, with its name (they
    started in the home folder with an empty name), and still do after a restart."""
    from app.main_window import MainWindow

    asked: list[str] = []
    target = tmp_path / "lectures" / "week3.json"
    target.parent.mkdir()

    def save_dialog(parent, title, start, filt):
        asked.append(start)
        return str(target), ""

    def open_dialog(parent, title, start, filt):
        asked.append(start)
        return "", ""  # cancelled

    monkeypatch.setattr(QFileDialog, "getSaveFileName", save_dialog)
    monkeypatch.setattr(QFileDialog, "getOpenFileName", open_dialog)
    first = MainWindow()
    qtbot.addWidget(first)
    assert first.sessions.save_session()
    assert first.sessions.save_session()
    assert not first.sessions.open_session()
    assert asked[1:] == [str(target), str(target)]
    first.close()  # saves the settings
    second = MainWindow()
    qtbot.addWidget(second)
    second.sessions.open_session()
    assert asked[-1] == str(target)
    second.close()
