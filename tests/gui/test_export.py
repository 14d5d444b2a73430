"""Export as a user gets it: PNGs of the views at a slide scale, the curves as CSV, a race as a
GIF (recorded on the event loop, cancellable), and refusals that leave existing files alone."""

from __future__ import annotations

import csv
import errno
import io
import os

import numpy as np
import pytest
from PIL import Image
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QPushButton

from app import export
from app.render import show_view
from core.errors import GdsimError
from tests.gui.helpers import click, named


def _image(path) -> QImage:
    img = QImage(str(path))
    assert not img.isNull(), f"{path} is not an image Qt can read"
    return img


def _rows(text: str) -> list[list[str]]:
    """The CSV's header and data rows (comment lines start with '#')."""
    body = "\n".join(line for line in text.splitlines() if not line.startswith("#"))
    return list(csv.reader(io.StringIO(body)))


def _click(qtbot, view, name: str) -> None:
    click(qtbot, named(view, QPushButton, name))


def _leftovers(folder) -> list[str]:
    return [n for n in os.listdir(folder) if n.startswith(".gdsim-")]


# -- PNG ------------------------------------------------------------------------------------


def test_png_at_scale_two_has_twice_the_pixels_and_shows_the_race(qtbot, window, tmp_path):
    view = window.surface_view
    for _ in range(5):
        _click(qtbot, view, "stepButton")
    one, two = tmp_path / "map1.png", tmp_path / "map2.png"
    size1 = export.export_png(view.plots.map, one, 1)
    size2 = export.export_png(view.plots.map, two, 2)
    img1, img2 = _image(one), _image(two)
    assert (
        (img1.width(), img1.height()) == size1 == (view.plots.map.width(), view.plots.map.height())
    )
    assert (img2.width(), img2.height()) == size2 == (2 * size1[0], 2 * size1[1])
    rgb1, rgb2 = export.qimage_to_rgb(img1), export.qimage_to_rgb(img2)
    assert rgb1.std() > 20 and rgb2.std() > 20  # a contour map, not a blank image
    # drawn at 2x, not a 1x picture blown up: many 2x2 blocks are not one flat colour
    blocks = rgb2[: 2 * (rgb2.shape[0] // 2), : 2 * (rgb2.shape[1] // 2)].astype(int)
    flat = (blocks[0::2, 0::2] == blocks[1::2, 1::2]).all(axis=-1)
    assert (~flat).sum() > 2000  # a nearest-neighbour blow-up would have none
    # the runners' colours are in the picture (the trajectories are drawn)
    color = np.array([int(view.entries[next(iter(view.entries))].color[i : i + 2], 16)
                      for i in (1, 3, 5)])  # fmt: skip
    assert (np.abs(rgb2.astype(int) - color).sum(axis=-1) < 30).sum() > 20


def test_png_of_the_whole_window_in_the_dark_theme(qtbot, window, tmp_path):
    window.set_theme("dark")
    path = tmp_path / "win.png"
    w, h = export.export_png(window, path, 1)
    img = export.qimage_to_rgb(_image(path))
    assert (w, h) == (window.width(), window.height())
    assert img.mean() < 110  # dark, and drawn (not blank)
    assert img.std() > 15


def test_png_refusals_are_one_line_and_keep_the_existing_file(qtbot, window, tmp_path, monkeypatch):
    target = tmp_path / "slide.png"
    target.write_bytes(b"keep me")
    (tmp_path / "folder.png").mkdir()
    view = window.surface_view
    for bad, words in (
        (tmp_path / "slide.jpg", "must end in .png"),
        (tmp_path / "missing" / "slide.png", "does not exist"),
        (tmp_path / "folder.png", "is a directory"),
    ):
        with pytest.raises(GdsimError, match=words) as info:
            export.export_png(view, bad, 2)
        assert "\n" not in str(info.value)
    with pytest.raises(GdsimError, match="scale must be between"):
        export.export_png(view, target, 9)
    # the encoder failing half-way: the old file stays, no temporary file is left behind
    monkeypatch.setattr(QImage, "save", lambda self, *a, **k: False)
    with pytest.raises(GdsimError, match="cannot write PNG"):
        export.export_png(view, target, 1)
    assert target.read_bytes() == b"keep me"
    assert sorted(os.listdir(tmp_path)) == ["folder.png", "slide.png"]


def test_png_in_background_encodes_off_the_gui_thread(qtbot, window, tmp_path, monkeypatch):
    from app.tasks import BackgroundTask

    task = BackgroundTask()
    path = tmp_path / "slide3.png"
    with qtbot.waitSignal(task.succeeded, timeout=20_000) as blocker:
        size = export.export_png_in_background(task, window, path, 3)
    assert blocker.args == [str(path)]
    img = _image(path)
    assert (img.width(), img.height()) == size == (3 * window.width(), 3 * window.height())
    # a failing encoder: one line, the old file kept, nothing left behind
    before = path.read_bytes()
    monkeypatch.setattr(QImage, "save", lambda self, *a, **k: False)
    with qtbot.waitSignal(task.failed, timeout=20_000) as blocker:
        export.export_png_in_background(task, window, path, 1)
    assert blocker.args[0].startswith("cannot write PNG") and "\n" not in blocker.args[0]
    assert path.read_bytes() == before
    assert _leftovers(tmp_path) == []
    task.shutdown()


# -- CSV ------------------------------------------------------------------------------------


def test_surfaces_csv_has_a_step_column_and_x_y_loss_per_runner(qtbot, window, tmp_path):
    view = window.surface_view
    for _ in range(7):
        _click(qtbot, view, "stepButton")
    path = tmp_path / "race.csv"
    rows_written = export.export_csv(view, path)
    rows = _rows(path.read_text(encoding="utf-8"))
    header, data = rows[0], rows[1:]
    labels = [e.label for e in view.entries.values()]
    assert header[0] == "step"
    assert header[1:] == [f"{lab} {k}" for lab in labels for k in ("x", "y", "loss")]
    assert rows_written == len(data) == 8  # steps 0..7
    assert [int(r[0]) for r in data] == list(range(8))
    for i, entry in enumerate(view.entries.values()):
        last = [float(v) for v in data[-1][1 + 3 * i : 4 + 3 * i]]
        x, y = entry.runner.point
        assert last == [x, y, entry.runner.loss]  # full precision, read back exactly
    start = [float(v) for v in data[0][1:3]]
    assert start == list(view.race.start)


def test_surfaces_csv_leaves_cells_empty_after_a_runner_diverged(qtbot, window, tmp_path):
    view = window.surface_view
    view.clear_runners()
    view.set_surface("bowl")
    view.add_runner("SGD(lr=0.1)", label="calm")
    view.add_runner("SGD(lr=5.0)", label="wild")
    for _ in range(40):
        view.step_once()
    wild = [e for e in view.entries.values() if e.label == "wild"][0]
    assert wild.diverged
    rows = _rows(export.surface_csv_text(view))
    data = rows[1:]
    assert len(data) == 41
    assert all(r[4:7] == ["", "", ""] for r in data[wild.runner.steps + 1 :])
    assert all(r[1] != "" for r in data)  # the calm one has every step


def test_training_csv_has_batch_epoch_and_the_curves(qtbot, window, tmp_path):
    view = show_view(window, "training")
    qtbot.waitUntil(lambda: view.controller.alive, timeout=10_000)
    for _ in range(3):
        _click(qtbot, view, "trainStepButton")
    qtbot.waitUntil(lambda: view.plots.curve_points(0) >= 3, timeout=10_000)
    path = tmp_path / "train.csv"
    export.export_csv(view, path)
    text = path.read_text(encoding="utf-8")
    assert text.startswith("# gdsim training curves")
    header, *data = _rows(text)
    assert header == [
        "batch", "epoch", "batch loss", "smoothed loss", "val loss", "val accuracy",
        "train accuracy", "lr",
    ]  # fmt: skip
    lane = view.plots.lanes[0]
    _x, losses = lane.raw.data()
    assert [int(r[0]) for r in data] == [1, 2, 3]
    assert [float(r[2]) for r in data] == pytest.approx(losses.tolist(), rel=1e-12)
    bpe = view.plots.batches_per_epoch
    assert [float(r[1]) for r in data] == pytest.approx([1 / bpe, 2 / bpe, 3 / bpe])
    assert all(r[4] == "" for r in data)  # no epoch has ended: no validation value yet
    lr = view.model.lane_lrs[0]  # the lr in force (no schedule: what every batch used)
    assert lr > 0 and [float(r[7]) for r in data] == [lr] * 3


def test_training_csv_says_when_the_view_kept_batches_decimated(qtbot, window):
    view = window.training_view
    plots = view.plots
    plots.reset(["SGD(lr=0.1)"], 10, window.training_view.controls.preview_data, 1000)
    n = 5000  # more batches than the view keeps (min/max decimation)
    plots.add_losses(0, np.arange(n), np.linspace(1.0, 0.1, n))
    text = export.training_csv_text(view)
    comments = [line for line in text.splitlines() if line.startswith("#")]
    assert any("decimated" in c and f"of {n} batches kept" in c for c in comments)
    header, *data = _rows(text)
    assert 100 < len(data) < n
    assert int(data[0][0]) == 1 and int(data[-1][0]) == n  # first and last batch are there


def test_csv_refuses_a_wrong_extension(qtbot, window, tmp_path):
    with pytest.raises(GdsimError, match=r"must end in \.csv"):
        export.export_csv(window.surface_view, tmp_path / "race.txt")
    assert list(tmp_path.iterdir()) == []


# -- GIF ------------------------------------------------------------------------------------


def _gif_frames(path) -> list[np.ndarray]:
    frames = []
    with Image.open(path) as im:
        for i in range(im.n_frames):
            im.seek(i)
            frames.append(np.asarray(im.convert("RGB")))
    return frames


def test_gif_has_the_frames_asked_for_and_they_move(qtbot, window, tmp_path):
    view = window.surface_view
    path = tmp_path / "race.gif"
    rec = export.export_gif(view, path, frames=6, steps_per_frame=3, fps=10, from_start=True)
    frames = _gif_frames(path)
    assert len(frames) == rec.writer.frames_written == 6
    assert view.race.t == 15  # five advances of three steps after the start frame
    assert frames[0].shape == (view.plots.map.height(), view.plots.map.width(), 3)
    assert not np.array_equal(frames[0], frames[-1])
    assert not np.array_equal(frames[1], frames[2])
    # the delta frames composite back to the full picture: the last GIF frame is the map now
    now = export.qimage_to_rgb(export.render_widget(view.plots.map, 1))
    close = (np.abs(frames[-1].astype(int) - now.astype(int)).sum(axis=-1) < 60).mean()
    assert close > 0.97


def test_gif_at_a_size_fits_it(qtbot, window, tmp_path):
    path = tmp_path / "small.gif"
    export.export_gif(window.surface_view, path, frames=3, steps_per_frame=1, size=(300, 300))
    with Image.open(path) as im:
        w, h = im.size
    assert max(w, h) in (299, 300, 301) and w <= 301 and h <= 301


def test_gif_recorder_runs_on_the_event_loop_and_reports(qtbot, window, tmp_path):
    view = window.surface_view
    path = tmp_path / "live.gif"
    rec = export.GifRecorder(view, path, frames=5, steps_per_frame=2, fps=12)
    seen = []
    rec.progress.connect(lambda done, total: seen.append((done, total)))
    with qtbot.waitSignal(rec.finished, timeout=20_000) as blocker:
        rec.start()
        assert rec.active and not path.exists()  # returns at once: recorded by the timer
    assert blocker.args == [str(path)]
    assert seen[-1] == (5, 5) and len(seen) == 5
    assert len(_gif_frames(path)) == 5
    assert view.race.t == 8 and not rec.active


def test_record_gif_calls_back_from_the_window(qtbot, window, tmp_path):
    done, progress = [], []
    rec = export.record_gif(
        window.surface_view, tmp_path / "menu.gif", frames=3, steps_per_frame=1,
        on_progress=lambda d, t: progress.append(d), on_finished=done.append,
    )  # fmt: skip
    qtbot.waitUntil(lambda: len(done) == 1, timeout=20_000)
    assert done == [str(tmp_path / "menu.gif")] and progress == [1, 2, 3]
    assert not rec.active


def test_cancelling_a_gif_keeps_the_old_file_and_leaves_nothing(qtbot, window, tmp_path):
    path = tmp_path / "old.gif"
    path.write_bytes(b"previous animation")
    rec = export.GifRecorder(window.surface_view, path, frames=200, steps_per_frame=1)
    rec.start()
    qtbot.waitUntil(lambda: rec.done >= 2, timeout=10_000)
    with qtbot.waitSignal(rec.failed) as blocker:
        rec.cancel()
    assert blocker.args == ["GIF export cancelled"]
    assert path.read_bytes() == b"previous animation"
    assert _leftovers(tmp_path) == []


def test_resetting_the_race_stops_a_recording(qtbot, window, tmp_path):
    view = window.surface_view
    rec = export.GifRecorder(view, tmp_path / "r.gif", frames=200, steps_per_frame=1)
    rec.start()
    qtbot.waitUntil(lambda: rec.done >= 2, timeout=10_000)
    with qtbot.waitSignal(rec.failed) as blocker:
        _click(qtbot, view, "resetButton")
    assert "restarted" in blocker.args[0]
    assert not (tmp_path / "r.gif").exists() and _leftovers(tmp_path) == []


def test_gif_refusals(qtbot, window, tmp_path):
    view = window.surface_view
    for kwargs, words in (
        ({"path": tmp_path / "a.png"}, r"must end in \.gif"),
        ({"path": tmp_path / "no" / "a.gif"}, "does not exist"),
        ({"path": tmp_path / "a.gif", "frames": 1}, "frames must be between"),
        ({"path": tmp_path / "a.gif", "fps": 500}, "fps must be between"),
        ({"path": tmp_path / "a.gif", "steps_per_frame": 0}, "steps per frame"),
    ):
        with pytest.raises(GdsimError, match=words):
            export.GifRecorder(view, **kwargs)
    assert list(tmp_path.iterdir()) == []


# -- a full disk, a read-only file ------------------------------------------------------------


class _FullDisk:
    """A file whose writes fail as on a full disk (ENOSPC), whoever writes it."""

    def __init__(self, file) -> None:
        self._file = file

    def write(self, data) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    def __getattr__(self, name):
        return getattr(self._file, name)


@pytest.fixture
def full_disk(monkeypatch):
    import core.files.atomic

    real = os.fdopen
    monkeypatch.setattr(core.files.atomic.os, "fdopen", lambda *a, **k: _FullDisk(real(*a, **k)))


def test_a_full_disk_names_the_png_and_prints_nothing_else(qtbot, window, tmp_path, capfd,
                                                           full_disk):  # fmt: skip
    target = tmp_path / "slide.png"
    target.write_bytes(b"keep me")
    with pytest.raises(GdsimError) as info:
        export.export_png(window.surface_view.plots.map, target, 1)
    assert str(info.value) == f"cannot write PNG {target}: No space left on device"
    assert "libpng" not in capfd.readouterr().err
    assert target.read_bytes() == b"keep me" and _leftovers(tmp_path) == []


def test_a_full_disk_names_the_gif(qtbot, tmp_path, full_disk):
    pytest.importorskip("PIL")
    target = tmp_path / "race.gif"
    writer = export.GifWriter(target)
    frames = np.random.default_rng(0).integers(0, 256, (4, 32, 32, 3), dtype=np.uint8)
    with pytest.raises(GdsimError) as info:
        for frame in frames:  # each frame differs: written while recording, not at close()
            writer.add(frame)
    assert writer.frames_added == 2  # the second frame pushed the first one to the disk
    assert str(info.value) == f"cannot write GIF {target}: No space left on device"
    assert not target.exists() and _leftovers(tmp_path) == []


def test_exports_keep_a_read_only_file(qtbot, window, tmp_path):
    view = window.surface_view
    for name, write in (
        ("map.png", lambda p: export.export_png(view.plots.map, p, 1)),
        ("race.csv", lambda p: export.export_csv(view, p)),
        ("race.gif", lambda p: export.GifWriter(p)),
    ):
        target = tmp_path / name
        target.write_bytes(b"handout")
        target.chmod(0o444)
        with pytest.raises(GdsimError, match="the file is read-only"):
            write(target)
        assert target.read_bytes() == b"handout" and target.stat().st_mode & 0o777 == 0o444
    assert _leftovers(tmp_path) == []


def test_an_infinite_loss_is_drawn_without_numpy_warnings():
    """A start where f is infinite (1/x at x = 0): the loss curve's point maps to NaN pixels
    quietly, instead of RuntimeWarnings on stderr from a command that succeeds."""
    import warnings

    from PySide6.QtCore import QPointF
    from PySide6.QtGui import QTransform

    from app.views.surface_layers import _to_pixels

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        px = _to_pixels(QTransform(), QPointF(0, 0), np.array([[0.0, np.inf], [1.0, 2.0]]))
    assert px[1].tolist() == [1.0, 2.0]
