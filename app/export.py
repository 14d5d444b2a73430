"""Export what is on screen: a view as PNG (at 1x-4x for slides), the curves as CSV, a race as GIF.

Why each piece is built this way:

* **PNG at a scale**: a slide at 2x or 3x must be *drawn* at that resolution, not a 1x grab
  blown up (blurry text, fat pixels). :func:`render_widget` renders the widget into a QImage
  of the scaled size whose device pixel ratio is the scale, so Qt and pyqtgraph paint text,
  pens and the trajectory layer at full resolution, exactly as on a high-DPI screen.
* **CSV from the data, not from the pixels**: the Surfaces view's numbers come from the core
  trail (``view.race.snapshot()``: the runners' bounded histories); the Training view's from
  the curve buffers its plots are fed from. The Training view keeps per-batch losses only
  min/max-decimated (``CurveBuffer``: a bounded copy, spikes kept), and the file says so in its
  header comment when it happened.
* **GIF streamed with Pillow** (Qt cannot write GIFs): frames are palette-quantised one by one
  against one palette made from the first frame plus the runners' colours, each frame stores
  only the rectangle that changed, with unchanged pixels transparent (small files: a race moves
  a few dots per frame), and it is written to disk as it goes, so memory holds two frames
  whatever the length. Identical frames (a race that has arrived) just lengthen the previous
  frame. MP4 is not offered: it needs an encoder binary (ffmpeg) that no well-kept pure-Python
  package ships.
* **Never a half-written file**: everything goes to a temporary file in the target's folder and
  is renamed over the target at the end (``core.files.atomic.AtomicFile``, the one atomic writer); a
  failure or a cancelled GIF leaves an existing file as it was.

In the window: :func:`export_png` and :func:`export_csv` take well under a second, call them
from the menu action. A GIF takes many frames: :class:`GifRecorder` records it on a QTimer,
one frame per event-loop turn, with ``progress``/``finished``/``failed`` signals and
``cancel()``. :func:`export_gif` does the same synchronously, for the headless ``gdsim render``
(and tests) only.

Errors are :class:`~core.errors.GdsimError` with one line (bad extension, a folder that does not
exist or cannot be written, out-of-range numbers); nothing is written then.
"""

from __future__ import annotations

import csv
import io
import math
import os
import time
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QObject, QPoint, QTimer, Signal, Slot
from PySide6.QtGui import QColor, QImage, QRegion
from PySide6.QtWidgets import QApplication, QWidget

from core.errors import GdsimError
from core.files.atomic import AtomicFile, check_writable, write_text_atomic

if TYPE_CHECKING:  # only for annotations: the views import this module's callers, not it
    from app.tasks import BackgroundTask
    from app.views.surface_view import SurfaceView
    from app.views.training_view import TrainingView

__all__ = [
    "DEFAULT_FPS",
    "DEFAULT_FRAMES",
    "MAX_FRAMES",
    "MAX_SCALE",
    "GifRecorder",
    "GifWriter",
    "export_csv",
    "export_gif",
    "export_png",
    "export_png_in_background",
    "qimage_to_rgb",
    "record_gif",
    "render_widget",
    "surface_csv_text",
    "training_csv_text",
]

MIN_SCALE, MAX_SCALE = 0.25, 4.0
#: Largest rendered image side, px (a 4x render of a 4K window would need ~1 GB).
MAX_PIXELS_SIDE = 16_384
DEFAULT_FRAMES = 100
MAX_FRAMES = 1_000
DEFAULT_FPS = 15.0
MAX_FPS = 50.0
MAX_STEPS_PER_FRAME = 10_000
HOLD_LAST_MS = 1_500  # the final frame stays this long before the GIF loops
SLICE_S = 0.008  # stepping per event-loop turn while recording in the window (the view's budget)
TRANSPARENT = 255  # palette index of "unchanged since the previous frame" in delta frames


# ------------------------------------------------------------------------------------ helpers


def _check_extension(path: str | os.PathLike, ext: str, what: str) -> str:
    name = os.fspath(path)
    if not name:
        raise GdsimError(f"{what} needs a file name")
    if not name.lower().endswith(ext):
        given = os.path.splitext(name)[1] or "no extension"
        raise GdsimError(f"{what} file must end in {ext} (got {given}): {name}")
    return name


def _check_scale(scale: float) -> float:
    try:
        s = float(scale)
    except (TypeError, ValueError):
        raise GdsimError(f"scale must be a number, got {scale!r}") from None
    if not (math.isfinite(s) and MIN_SCALE <= s <= MAX_SCALE):
        raise GdsimError(f"scale must be between {MIN_SCALE:g} and {MAX_SCALE:g}, got {scale}")
    return s


def _write_png(image: QImage, name: str, cancelled: Callable[[], bool] | None = None) -> bool:
    """Encode ``image`` and write it atomically to ``name``; False if ``cancelled()`` came
    first (then ``name`` is untouched).

    Encoded in memory, then written by Python: a full disk is one GdsimError naming the file
    (libpng writing the file itself would also print its own error line on stderr).
    """
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    encoded = image.save(buffer, "PNG")
    buffer.close()
    if not encoded:
        raise GdsimError(
            f"cannot write PNG {name}: Qt could not encode the image"
            f" ({image.width()}x{image.height()})"
        )
    stop = cancelled or (lambda: False)
    if stop():
        return False
    with AtomicFile(name, "PNG") as out:
        out.file.write(data.data())
        if stop():
            out.abort()
    return out.committed


# ------------------------------------------------------------------------------------ PNG


def render_widget(widget: QWidget, scale: float = 1.0) -> QImage:
    """``widget`` (and its children) drawn into a new image ``scale`` times its size.

    The image's device pixel ratio is ``scale``: widgets and plots paint in their usual
    logical coordinates and Qt rasterises at the higher resolution (sharp text and lines).
    """
    scale = _check_scale(scale)
    widget.ensurePolished()
    layout = widget.layout()
    if layout is not None:
        layout.activate()
    w, h = widget.width(), widget.height()
    if w <= 0 or h <= 0:
        raise GdsimError("nothing to export: the view has no size yet (is it shown?)")
    pw, ph = max(1, round(w * scale)), max(1, round(h * scale))
    if max(pw, ph) > MAX_PIXELS_SIDE:
        raise GdsimError(
            f"the image would be {pw}x{ph} px; at most {MAX_PIXELS_SIDE} px a side: lower the scale"
        )
    image = QImage(pw, ph, QImage.Format.Format_ARGB32_Premultiplied)
    image.setDevicePixelRatio(scale)
    image.fill(widget.palette().window().color())
    # QWidget.render explicitly: QGraphicsView (every pyqtgraph plot) overrides render() with
    # a scene-rendering method of another signature.
    QWidget.render(
        widget,
        image,
        QPoint(0, 0),
        QRegion(),
        QWidget.RenderFlag.DrawWindowBackground | QWidget.RenderFlag.DrawChildren,
    )
    return image


def export_png(widget: QWidget, path: str | os.PathLike, scale: float = 1.0) -> tuple[int, int]:
    """Write ``widget`` as a PNG drawn at ``scale`` (1, 2, 3 for slides); returns (w, h) px.

    Refused with a one-line GdsimError: a name not ending in .png, a scale outside
    0.25-4, a folder that does not exist or cannot be written. Written atomically.
    """
    name = _check_extension(path, ".png", "PNG")
    scale = _check_scale(scale)
    check_writable(name, "PNG")  # before the render: a wrong folder costs nothing
    image = render_widget(widget, scale)
    _write_png(image, name)
    return image.width(), image.height()


def export_png_in_background(
    task: BackgroundTask, widget: QWidget, path: str | os.PathLike, scale: float = 1.0
) -> tuple[int, int]:
    """:func:`export_png` for the window: draw now, encode and write on ``task``'s thread.

    Drawing must happen on the GUI thread (~50 ms for the whole window at 1x, ~150 ms at 3x
    here); PNG encoding is most of the cost (~0.9 s for a 3x window) and runs on the worker.
    ``task`` (an ``app.tasks.BackgroundTask``) then emits ``succeeded(path)``, ``failed(one
    line)`` or ``cancelled()``; a cancel before the rename leaves the old file. Bad names,
    scales and folders raise GdsimError here, before anything is drawn. Returns (w, h) px.
    """
    name = _check_extension(path, ".png", "PNG")
    scale = _check_scale(scale)
    check_writable(name, "PNG")
    image = render_widget(widget, scale)
    task.start(_write_png_work, image, name)
    return image.width(), image.height()


def _write_png_work(
    _report: Callable[[float, str], None], cancelled: Callable[[], bool], image: QImage, name: str
) -> str | None:
    """Worker side of :func:`export_png_in_background` (QImage is reentrant: this thread owns
    its copy)."""
    return name if _write_png(image, name, cancelled) else None


# ------------------------------------------------------------------------------------ CSV


def _num(value: float) -> str:
    """Full precision, shortest form (``repr``); non-finite as nan/inf (pandas reads them)."""
    v = float(value)
    return (
        repr(v) if math.isfinite(v) else ("nan" if math.isnan(v) else ("inf" if v > 0 else "-inf"))
    )


def _unique_names(names: Iterable[str]) -> list[str]:
    """'SGD', 'SGD' -> 'SGD', 'SGD #2': column names must tell runners apart."""
    out: list[str] = []
    seen: dict[str, int] = {}
    for name in names:
        n = seen.get(name, 0) + 1
        seen[name] = n
        out.append(name if n == 1 else f"{name} #{n}")
    return out


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def surface_csv_text(view: SurfaceView) -> str:
    """The race's histories as CSV: a ``step`` column, then ``x``, ``y``, ``loss`` per runner.

    Rows are the union of the steps any runner kept; a runner without a sample at a step (its
    history is decimated with its own stride, or it diverged earlier) leaves its cells empty.
    """
    from core.engine.race import RunnerSnapshot
    from core.files.session import spec_text

    snaps = [s for s in view.race.snapshot() if isinstance(s, RunnerSnapshot)]
    labels = []
    for s in snaps:
        entry = view.entries.get(s.id)
        labels.append(_one_line(entry.label if entry is not None else s.label))
    labels = _unique_names(labels)
    surface = view.race.surface
    strides = {lab: _stride(s.step_index) for lab, s in zip(labels, snaps, strict=True)}
    buf = io.StringIO()
    buf.write(f"# gdsim surface race on {_one_line(surface.name)}, step {view.race.t}\n")
    buf.write(
        "# one row per step kept by any runner; each runner keeps a bounded history"
        " (every k-th step once it is long; blank = no sample, or diverged before)\n"
    )
    thinned = [f"{lab}: every {k}" for lab, k in strides.items() if k > 1]
    if thinned:
        buf.write("# thinned histories: " + "; ".join(thinned) + " steps\n")
    for lab, s in zip(labels, snaps, strict=True):
        entry = view.entries.get(s.id)
        spec = spec_text(entry.runner.spec) if entry is not None else s.spec
        spec += f", diverged at step {s.diverged_at}" if s.diverged_at else ""
        buf.write(f"# {lab}: {spec}, start ({_num(s.start[0])}, {_num(s.start[1])})\n")
    writer = csv.writer(buf, lineterminator="\n")
    header = ["step"]
    for lab in labels:
        header += [f"{lab} x", f"{lab} y", f"{lab} loss"]
    writer.writerow(header)
    steps = np.unique(np.concatenate([s.step_index for s in snaps])) if snaps else np.empty(0)
    columns = []
    for s in snaps:
        pos = {int(k): i for i, k in enumerate(s.step_index.tolist())}
        columns.append((pos, s.points, s.losses))
    for step in steps.tolist():
        row = [str(int(step))]
        for pos, pts, losses in columns:
            i = pos.get(int(step))
            if i is None:
                row += ["", "", ""]
            else:
                row += [_num(pts[i, 0]), _num(pts[i, 1]), _num(losses[i])]
        writer.writerow(row)
    return buf.getvalue()


def _stride(steps: np.ndarray) -> int:
    """Steps between kept history points (1 = every step; the newest point may be off-grid)."""
    if steps.size <= 2:
        return 1
    return max(1, int(np.min(np.diff(steps[:-1]))))


def training_csv_text(view: TrainingView) -> str:
    """The Training view's curves as CSV: ``batch``, ``epoch``, then per optimizer lane the
    per-batch loss, its smoothed (EMA) curve, validation loss, validation and training accuracy,
    and the lr the batch used.

    Per-batch values are at their batch; per-epoch values at the epoch's last batch. Empty cells
    where a curve has no value at that row.
    """
    plots = view.plots
    bpe = max(1, int(plots.batches_per_epoch))
    lanes = list(plots.lanes)
    names = _unique_names(
        [_one_line(_lane_title(lane.name, lane.lr)) if len(lanes) > 1 else "" for lane in lanes]
    )
    series = (
        ("raw", "batch loss"),
        ("smooth", "smoothed loss"),
        ("val", "val loss"),
        ("val_acc", "val accuracy"),
        ("train_acc", "train accuracy"),
        ("lrs", "lr"),
    )
    table: dict[int, dict[int, str]] = {}
    notes = []
    col = 0
    header = ["batch", "epoch"]
    for lane, name in zip(lanes, names, strict=True):
        for key, title in series:
            header.append(f"{name} {title}".strip())
            buf = getattr(lane, key)
            if len(buf) == 0:
                col += 1
                continue
            x, y = buf.data()
            batches = np.rint(x * bpe).astype(np.int64)
            for b, v in zip(batches.tolist(), y.tolist(), strict=True):
                table.setdefault(b, {})[col] = _num(v)
            if key in ("raw", "smooth", "lrs") and x.size < len(buf):
                who = f"{name}: " if name else ""
                how = "evenly thinned" if key == "smooth" else "min and max of each run of batches"
                notes.append(f"{who}{title}: {x.size} of {len(buf)} batches kept ({how})")
            col += 1
    out = io.StringIO()
    lane_text = ", ".join(lane.name for lane in lanes) or "no run yet"
    out.write(f"# gdsim training curves: {_one_line(lane_text)}; {bpe} batches per epoch\n")
    if notes:
        out.write(
            "# the view keeps per-batch curves decimated (bounded memory; spikes kept): "
            + "; ".join(notes)
            + "\n"
        )
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    for b in sorted(table):
        cells = table[b]
        row = [str(b), _num(b / bpe)] + [cells.get(i, "") for i in range(col)]
        writer.writerow(row)
    return out.getvalue()


def _lane_title(name: str, lr: float | None) -> str:
    from app.views.training_plots import lane_label

    return lane_label(name, lr)


def _csv_writers() -> dict[type, Callable[[Any], str]]:
    """Which view's curves each CSV writer knows (imported here: the views import this
    module's callers)."""
    from app.views.surface_view import SurfaceView
    from app.views.training_view import TrainingView

    return {SurfaceView: surface_csv_text, TrainingView: training_csv_text}


def export_csv(view: QWidget, path: str | os.PathLike) -> int:
    """Write the current view's curves as CSV (see the two ``*_csv_text`` functions).

    Returns the number of data rows. Written atomically; GdsimError for a bad name/folder.
    """
    name = _check_extension(path, ".csv", "CSV")
    check_writable(name, "CSV")
    to_text = next((fn for cls, fn in _csv_writers().items() if isinstance(view, cls)), None)
    if to_text is None:
        raise GdsimError("this view has no curves to export as CSV")
    text = to_text(view)
    write_text_atomic(name, text, what="CSV")
    return sum(1 for line in text.splitlines() if line and not line.startswith("#")) - 1


# ------------------------------------------------------------------------------------ GIF


def _pillow() -> Any:
    try:
        from PIL import GifImagePlugin, Image
    except ImportError:
        raise GdsimError("GIF export needs Pillow: pip install pillow") from None
    return Image, GifImagePlugin


def qimage_to_rgb(image: QImage) -> np.ndarray:
    """An (h, w, 3) uint8 copy of ``image`` (any format)."""
    rgb = image.convertToFormat(QImage.Format.Format_RGB888)
    h, w, stride = rgb.height(), rgb.width(), rgb.bytesPerLine()
    data = np.frombuffer(rgb.constBits(), dtype=np.uint8, count=stride * h)
    return data.reshape(h, stride)[:, : w * 3].reshape(h, w, 3).copy()


class GifWriter:
    """An animated GIF written frame by frame (bounded memory; see the module docstring).

    ``add(rgb)`` takes (h, w, 3) uint8 frames of one size; ``close()`` finishes the file and
    moves it over ``path``; ``abort()`` removes the partial file. ``extra_colors`` are put in
    the palette exactly (the runners' colours: a trajectory drawn later must keep its colour).
    """

    def __init__(
        self,
        path: str | os.PathLike,
        fps: float = DEFAULT_FPS,
        extra_colors: Sequence[str] = (),
        hold_last_ms: int = HOLD_LAST_MS,
        loop: int = 0,
    ) -> None:
        self.path = _check_extension(path, ".gif", "GIF")
        fps = float(fps)
        if not (math.isfinite(fps) and 1.0 <= fps <= MAX_FPS):
            raise GdsimError(f"fps must be between 1 and {MAX_FPS:g}, got {fps:g}")
        self._image, self._plugin = _pillow()
        check_writable(self.path, "GIF")
        target = os.path.realpath(self.path)
        if os.path.exists(target) and not os.path.isfile(target):
            raise GdsimError(f"cannot write GIF {self.path}: not a regular file")
        # GIF delays are in 1/100 s
        self.frame_ms = max(20, int(round(100.0 / fps)) * 10)
        self.hold_last_ms = int(hold_last_ms)
        self.loop = int(loop)
        self.extra_colors = [QColor(c).getRgb()[:3] for c in extra_colors]
        self.frames_written = 0
        self.frames_added = 0
        self._out: AtomicFile | None = None
        self._palette: list[int] | None = None
        self._palette_image: Any = None
        self._prev: np.ndarray | None = None
        self._size: tuple[int, int] | None = None
        self._pending: tuple[np.ndarray, tuple[int, int], int, bool] | None = None

    # -- frames --------------------------------------------------------------------------
    def add(self, rgb: np.ndarray) -> None:
        if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
            raise ValueError(f"a frame must be (h, w, 3) uint8, got {rgb.shape} {rgb.dtype}")
        h, w = rgb.shape[:2]
        if self._size is None:
            self._open(rgb)
        elif (w, h) != self._size:
            raise ValueError(f"frame size {w}x{h} differs from the first frame's {self._size}")
        Image = self._image
        frame = Image.fromarray(rgb, "RGB").quantize(
            palette=self._palette_image, dither=Image.Dither.NONE
        )
        idx = np.asarray(frame, dtype=np.uint8)
        self.frames_added += 1
        prev = self._prev
        if prev is None:
            self._push(idx.copy(), (0, 0), full=True)
        else:
            changed = idx != prev
            rows = np.flatnonzero(changed.any(axis=1))
            if rows.size == 0:  # identical: the previous frame just lasts longer
                self._extend_pending(self.frame_ms)
                return
            cols = np.flatnonzero(changed.any(axis=0))
            y0, y1, x0, x1 = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
            region = idx[y0:y1, x0:x1].copy()
            region[~changed[y0:y1, x0:x1]] = TRANSPARENT
            self._push(region, (int(x0), int(y0)), full=False)
        self._prev = idx

    def _open(self, rgb: np.ndarray) -> None:
        Image = self._image
        h, w = rgb.shape[:2]
        self._size = (w, h)
        n_extra = len(self.extra_colors)
        # the palette from every other pixel: 4x faster, and flat bands lose nothing
        base = Image.fromarray(np.ascontiguousarray(rgb[::2, ::2]), "RGB").quantize(
            colors=max(2, 255 - n_extra), method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE
        )
        colors = base.getpalette()[: 3 * (255 - n_extra)]
        ncolors = len(colors) // 3
        for c in self.extra_colors:
            colors += list(c)
        ncolors += n_extra
        # pad to 256 entries with copies of colour 0: a pixel can never be matched to the
        # transparent index (ties go to the lowest index)
        colors += colors[:3] * (256 - ncolors)
        self._palette = colors
        pal = Image.new("P", (1, 1))
        pal.putpalette(colors)
        self._palette_image = pal
        self._out = AtomicFile(self.path, "GIF")

    def _image_of(self, idx: np.ndarray) -> Any:
        img = self._image.fromarray(idx, "P")
        img.putpalette(self._palette)
        return img

    def _push(self, idx: np.ndarray, offset: tuple[int, int], full: bool) -> None:
        self._flush_pending()
        self._pending = (idx, offset, self.frame_ms, full)

    def _extend_pending(self, ms: int) -> None:
        if self._pending is not None:
            idx, offset, dur, full = self._pending
            self._pending = (idx, offset, dur + ms, full)

    def _flush_pending(self, extra_ms: int = 0) -> None:
        if self._pending is None:
            return
        idx, offset, dur, full = self._pending
        self._pending = None
        img = self._image_of(idx)
        assert self._out is not None
        fh = self._out.file
        try:
            if self.frames_written == 0:
                header, _ = self._plugin.getheader(
                    img, None, {"loop": self.loop, "duration": dur, "version": b"89a"}
                )
                for part in header:
                    fh.write(part)
            params: dict[str, Any] = {"duration": dur + extra_ms, "disposal": 1}
            if not full:
                params["transparency"] = TRANSPARENT
            for part in self._plugin.getdata(img, offset, **params):
                fh.write(part)
        except OSError as exc:  # a full disk: the file's name in the message, no temp left
            error = self._out.error(exc)
            self.abort()
            raise error from None
        self.frames_written += 1

    # -- the file ------------------------------------------------------------------------
    def close(self) -> int:
        """Finish the GIF and move it over ``path``; returns the frames written."""
        if self._out is None or self._out.tmp is None:
            raise GdsimError("no frame was recorded: nothing to write")
        self._flush_pending(self.hold_last_ms - self.frame_ms if self.frames_written else 0)
        with self._out as out:  # an OSError: removed, and a GdsimError naming the file
            out.file.write(b";")
        return self.frames_written

    def abort(self) -> None:
        """Drop the partial file (the target, if it existed, is untouched)."""
        if self._out is not None:
            self._out.abort()

    def __del__(self) -> None:  # an abandoned writer must not leave .gdsim-*.tmp files behind
        try:
            self.abort()
        except Exception:  # noqa: BLE001 - interpreter shutdown
            pass


class GifRecorder(QObject):
    """Records a surface race as a GIF without freezing the window.

    A frame is the map (or ``widget``) drawn now; between two frames the race advances by
    ``steps_per_frame`` steps (fractional values add up), the last of them through the view's
    own ``step_once`` so the plots, the status line and every tool drawn over the map follow.
    In the window (:meth:`start`) the work runs on a zero-interval QTimer in slices of at most
    :data:`SLICE_S` of stepping, and each frame is captured in a slice of its own, so the
    window keeps answering. With ``from_start`` the race is reset first (the GIF shows it from
    step 0). Recording ends after ``frames`` frames, or early once every runner has diverged.
    The user restarting the race (reset, a new start or surface) cancels it.

    Signals: ``progress(done, total)`` after each frame, ``finished(path)`` once the file is
    written, ``failed(message)`` (one line; also "GIF export cancelled"). Keep a reference to
    the recorder until one of the last two arrives; call ``shutdown()`` when the window closes.
    """

    progress = Signal(int, int)
    finished = Signal(str)
    failed = Signal(str)

    def __init__(
        self,
        view: SurfaceView,
        path: str | os.PathLike,
        frames: int = DEFAULT_FRAMES,
        steps_per_frame: float = 1.0,
        fps: float = DEFAULT_FPS,
        size: tuple[int, int] | None = None,
        scale: float = 1.0,
        widget: QWidget | None = None,
        from_start: bool = True,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        try:
            frames = int(frames)
        except (TypeError, ValueError):
            raise GdsimError(f"frames must be a whole number, got {frames!r}") from None
        if not 2 <= frames <= MAX_FRAMES:
            raise GdsimError(f"frames must be between 2 and {MAX_FRAMES}, got {frames}")
        try:
            spf = float(steps_per_frame)
        except (TypeError, ValueError):
            raise GdsimError(f"steps per frame must be a number, got {steps_per_frame!r}") from None
        if not (math.isfinite(spf) and 0 < spf <= MAX_STEPS_PER_FRAME):
            raise GdsimError(
                f"steps per frame must be above 0 and at most {MAX_STEPS_PER_FRAME}, got {spf:g}"
            )
        if size is not None and min(int(size[0]), int(size[1])) < 16:
            raise GdsimError(f"GIF size must be at least 16x16 px, got {size[0]}x{size[1]}")
        self.view = view
        self.widget = widget if widget is not None else view.plots.map
        self.frames = frames
        self.steps_per_frame = spf
        self.size = None if size is None else (int(size[0]), int(size[1]))
        self.scale = _check_scale(scale)
        self.from_start = bool(from_start)
        colors = [e.color for e in view.entries.values()]
        self.writer = GifWriter(path, fps, extra_colors=[*colors, "#000000", "#ffffff"])
        self.path = self.writer.path
        self.done = 0  # frames captured
        self.capture_seconds: list[float] = []  # per frame: render + encode (responsiveness)
        self._owed = 0.0  # fractional steps carried to the next frame
        self._left = 0  # steps still to take before the next frame
        self._capture_next = True
        self._active = False
        self._scale_used = self.scale
        self._timer = QTimer(self)
        self._timer.setInterval(0)
        self._timer.timeout.connect(self._slice)

    @property
    def active(self) -> bool:
        """True from :meth:`begin` until the file is written, cancelled or failed."""
        return self._active

    def _frame_scale(self) -> float:
        """``scale``, or the scale at which the widget fits into ``size`` (aspect kept)."""
        if self.size is None:
            return self.scale
        w, h = self.widget.width(), self.widget.height()
        if w <= 0 or h <= 0:
            return self.scale
        return min(MAX_SCALE, max(MIN_SCALE, min(self.size[0] / w, self.size[1] / h)))

    def begin(self) -> None:
        """Pause the race (and reset it if ``from_start``); the next frame is the first."""
        self.view.pause()
        if self.from_start:
            self.view.reset()
        self.view.model.events.restarted.connect(self._on_restarted)
        self._active = True
        self._capture_next = True
        self._scale_used = self._frame_scale()

    def start(self) -> None:
        """Record on the event loop (returns at once; watch the signals)."""
        self.begin()
        self._timer.start()

    def work(self, deadline: float | None = None) -> bool:
        """Capture and step until ``deadline`` (perf_counter s; None: to the end). Returns
        False once every frame is captured (then :meth:`finish` writes the file).

        A capture always gets a call of its own when a deadline is given: stepping and
        drawing never add up in one slice.
        """
        race = self.view.race
        while self._active:
            if self._capture_next:
                self._capture()
                if self.done >= self.frames:
                    return False
                self._owed += self.steps_per_frame
                n = int(self._owed + 1e-9)
                self._owed -= n
                if n and not race.active:
                    return False  # every runner has diverged: the last frame is final
                self._left = n
                self._capture_next = n == 0  # no step due: the same picture again
                if deadline is not None:
                    return True
                continue
            if self._left > 1:
                if deadline is None:
                    race.step(self._left - 1)
                    self._left = 1
                else:
                    while self._left > 1 and time.perf_counter() < deadline:
                        race.step(1)
                        self._left -= 1
            if self._left == 1 and (deadline is None or time.perf_counter() < deadline):
                self.view.step_once()  # the frame's last step: plots, tools, status follow
                self._left = 0
                self._capture_next = True
                if deadline is not None:
                    return True
            if deadline is not None and time.perf_counter() >= deadline:
                return True
        return False

    def _capture(self) -> None:
        t0 = time.perf_counter()
        image = render_widget(self.widget, self._scale_used)
        self.writer.add(qimage_to_rgb(image))
        self.done += 1
        self.capture_seconds.append(time.perf_counter() - t0)
        self.progress.emit(self.done, self.frames)

    def finish(self) -> str:
        """Write the file; returns its path (GdsimError if it could not be written)."""
        self._stop()
        self.writer.close()
        return self.path

    def run_blocking(self) -> str:
        """Record every frame now (headless rendering and tests: blocks until done)."""
        self.begin()
        try:
            self.work(None)
        except BaseException:
            self._stop()
            self.writer.abort()
            raise
        return self.finish()

    @Slot()
    def cancel(self) -> None:
        """Stop recording and drop the partial file (an existing file keeps its content)."""
        if not self._active:
            return
        self._stop()
        self.writer.abort()
        self.failed.emit("GIF export cancelled")

    def shutdown(self) -> None:
        """The window is closing: stop quietly, leaving no partial file."""
        if self._active:
            self._stop()
            self.writer.abort()

    def _stop(self) -> None:
        self._timer.stop()
        if self._active:
            self._active = False
            try:
                self.view.model.events.restarted.disconnect(self._on_restarted)
            except (RuntimeError, TypeError):
                pass

    @Slot()
    def _on_restarted(self) -> None:
        if self._active:
            self._stop()
            self.writer.abort()
            self.failed.emit("GIF export stopped: the race was restarted")

    @Slot()
    def _slice(self) -> None:
        if self.view.plots.map_pending:  # a new surface's map is on its way: frames show it
            return
        try:
            if not self.work(time.perf_counter() + SLICE_S):
                self.finished.emit(self.finish())
        except GdsimError as exc:
            self._stop()
            self.writer.abort()
            self.failed.emit(_one_line(str(exc)))
        except Exception as exc:  # a bug: say so, never leave the timer spinning on it
            self._stop()
            self.writer.abort()
            self.failed.emit(f"GIF export failed: {type(exc).__name__}: {_one_line(str(exc))}")
            raise


def record_gif(
    view: SurfaceView,
    path: str | os.PathLike,
    on_progress: Callable[[int, int], None] | None = None,
    on_finished: Callable[[str], None] | None = None,
    on_failed: Callable[[str], None] | None = None,
    parent: QObject | None = None,
    **options: Any,
) -> GifRecorder:
    """For a menu action: record the race from step 0 in the window, without freezing it.

    ``options`` are :class:`GifRecorder`'s (frames, steps_per_frame, fps, size, ...). Returns
    the started recorder (keep a reference until ``on_finished``/``on_failed``; its ``cancel()``
    drops the partial file; call ``shutdown()`` when the window closes). Bad arguments raise
    GdsimError before anything changes.
    """
    recorder = GifRecorder(view, path, parent=parent, **options)
    if on_progress is not None:
        recorder.progress.connect(on_progress)
    if on_finished is not None:
        recorder.finished.connect(on_finished)
    if on_failed is not None:
        recorder.failed.connect(on_failed)
    recorder.start()
    return recorder


def export_gif(
    surface_view: SurfaceView, path: str | os.PathLike, from_start: bool = False, **options: Any
) -> GifRecorder:
    """Record the race as a GIF now, synchronously (offscreen rendering; in the window use
    :class:`GifRecorder`.start()). From the race's current state unless ``from_start``;
    ``options`` are :class:`GifRecorder`'s (frames, steps_per_frame, fps, size, scale, widget).
    Returns the recorder (``done`` frames, ``writer.frames_written``, ``capture_seconds``)."""
    recorder = GifRecorder(surface_view, path, from_start=from_start, **options)
    recorder.run_blocking()
    app = QApplication.instance()
    if app is not None:
        app.processEvents()
    return recorder
