"""File ▸ Export through the window: PNG at a scale, CSV, GIF with cancel, failures reported."""

from __future__ import annotations

import csv

import pytest
from PIL import Image
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QFileDialog, QMessageBox


def _trigger(window, name: str) -> None:
    act = window.findChild(QAction, name)
    assert act is not None and act.isEnabled(), name
    act.trigger()


def _save_to(monkeypatch, path) -> None:
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(path), ""))


def test_png_at_2x_has_twice_the_pixels_of_the_view(window, qtbot, tmp_path, monkeypatch):
    out = tmp_path / "slide.png"
    _save_to(monkeypatch, out)
    _trigger(window, "actExportPng2x")
    qtbot.waitUntil(out.exists, timeout=20_000)
    view = window.current_view()
    with Image.open(out) as img:
        assert img.size == (2 * view.width(), 2 * view.height())
        assert (
            len(img.convert("L").getcolors(maxcolors=1 << 16) or range(99)) > 20
        )  # a picture, not a blank frame


def test_csv_has_a_column_per_runner(window, qtbot, tmp_path, monkeypatch):
    view = window.surface_view
    for _ in range(5):
        view.step_once()
    out = tmp_path / "curves.csv"
    _save_to(monkeypatch, out)
    _trigger(window, "actExportCsv")
    rows = [r for r in csv.reader(out.read_text().splitlines()) if r and not r[0].startswith("#")]
    header, data = rows[0], rows[1:]
    assert len(data) == 6  # steps 0..5
    for entry in view.entries.values():
        assert any(entry.label in column for column in header)


def test_gif_records_and_cancel_leaves_the_old_file(window, qtbot, tmp_path, monkeypatch):
    exports = window.exports
    out = tmp_path / "race.gif"
    _save_to(monkeypatch, out)
    assert exports.export_gif(frames=8)
    assert window.findChild(QAction, "actCancelGif").isEnabled()
    qtbot.waitUntil(lambda: not exports.recording, timeout=30_000)
    with Image.open(out) as img:
        assert img.n_frames >= 2
    before = out.read_bytes()
    assert exports.export_gif(frames=200)
    _trigger(window, "actCancelGif")
    assert not exports.recording and out.read_bytes() == before
    assert window.findChild(QMessageBox, "exportErrorBox") is None


@pytest.mark.parametrize("name", ["actExportPng1x", "actExportCsv"])
def test_an_unwritable_place_is_reported_and_writes_nothing(window, tmp_path, monkeypatch, name):
    _save_to(monkeypatch, tmp_path / "no-such-folder" / "out.png")
    if name == "actExportCsv":
        _save_to(monkeypatch, tmp_path / "no-such-folder" / "out.csv")
    _trigger(window, name)
    box = window.findChild(QMessageBox, "exportErrorBox")
    assert box is not None and "no-such-folder" in box.text()
    assert not (tmp_path / "no-such-folder").exists()
