"""``gdsim render`` and ``gdsim --screenshot``: pictures of the real window, made offscreen.

For slides, the README and bug reports: the real ``MainWindow`` applies a preset or session the
way File ▸ Open does, runs a fixed number of steps (the same command gives the same picture) and
writes through ``app.export``. Options: ``gdsim render --help``. Bad input is one line, exit 2,
before any window is built where possible; a screenshot never saves settings.
"""

from __future__ import annotations

import argparse
import math
import os
import re
import tempfile
import time
from collections.abc import Callable
from typing import Any

from core.engine.commands import Step
from core.errors import GdsimError
from core.files.atomic import check_writable
from core.files.session import MAX_STEPS, Session, load_preset, load_session, preset_name

HELP = "draw a preset or session as the window shows it, offscreen, to a PNG or an animated GIF"

PARTS = ("window", "view", "plots", "map")
VIEWS = ("surfaces", "training")
THEME_NAMES = ("light", "dark")
DEFAULT_RACE_STEPS = 300
MAX_TRAIN_STEPS = 1_000_000
MAX_RACE_STEPS = 10 * MAX_STEPS
DEFAULT_WINDOW = (1280, 800)
MAX_SIZE = 8192
MAX_GIF_FRAMES = 150  # default frame cap: ~10 s at 15 fps, a README-sized file
TRAIN_TIMEOUT_S = 600.0
BOUNDARY_TIMEOUT_S = 10.0
_SIZE = re.compile(r"^\s*(\d{1,5})\s*[xX×]\s*(\d{1,5})\s*$")


# ------------------------------------------------------------------------------ arguments


def parse_size(text: str) -> tuple[int, int]:
    """'1280x800' -> (1280, 800); GdsimError (one line) otherwise."""
    m = _SIZE.match(text or "")
    if not m:
        raise GdsimError(f"--size must look like 1280x800, got {text!r}")
    w, h = int(m.group(1)), int(m.group(2))
    if not (64 <= w <= MAX_SIZE and 64 <= h <= MAX_SIZE):
        raise GdsimError(f"--size must be between 64 and {MAX_SIZE} px a side, got {w}x{h}")
    return w, h


def add_arguments(parser: argparse.ArgumentParser) -> None:
    src = parser.add_mutually_exclusive_group(required=True)
    src.add_argument(
        "--preset",
        metavar="NAME",
        help="a built-in lecture preset: its name, a unique start of it (ravine) or its number",
    )
    src.add_argument("--session", metavar="FILE", help="a saved gdsim session (.json)")
    parser.add_argument("-o", "--output", required=True, metavar="FILE", help="out.png or out.gif")
    parser.add_argument(
        "--steps",
        type=int,
        metavar="N",
        help=f"race steps or training batches to run (default {DEFAULT_RACE_STEPS} steps; "
        "the whole training run)",
    )
    parser.add_argument("--view", choices=VIEWS, help="which view (default: the session's)")
    parser.add_argument(
        "--part", choices=PARTS, help="what to draw (default: window for PNG, map for GIF)"
    )
    parser.add_argument("--size", metavar="WxH", help="size of the drawn part, logical pixels")
    parser.add_argument("--scale", type=float, default=1.0, help="pixel scale, e.g. 2 (default 1)")
    parser.add_argument("--theme", choices=THEME_NAMES, default="light", help="colour theme")
    parser.add_argument("--frames", type=int, metavar="N", help="GIF frames (default: by speed)")
    parser.add_argument("--fps", type=float, default=15.0, help="GIF frames per second (15)")


def read_source(preset: str | None, session: str | None) -> tuple[Session, str]:
    """The session to show and a short name for messages (GdsimError if it cannot be read)."""
    if preset is not None:
        name = preset_name(preset)  # the full name, however it was typed
        return load_preset(name), f"preset {name}"
    assert session is not None
    return load_session(session), f"session {os.path.basename(session)}"


def _output_kind(path: str) -> str:
    ext = os.path.splitext(path)[1].lower()
    if ext not in (".png", ".gif"):
        raise GdsimError(f"-o must end in .png or .gif, got {ext or 'no extension'}: {path}")
    return ext[1:]


# ------------------------------------------------------------------------------ Qt set-up


def _qt_app() -> Any:
    """The QApplication (made offscreen if none exists yet: render never needs a display)."""
    os.environ.setdefault("GDSIM_ERROR_DIALOGS", "0")
    from app.display import import_torch_before_qt

    import_torch_before_qt()
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance()
    if app is None:
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
        app = QApplication(["gdsim"])
        app.setApplicationName("gdsim")
        app.setOrganizationName("gdsim")
    return app


def _pump(app: Any, seconds: float = 0.0) -> None:
    """Run the event loop for ``seconds`` (at least one pass)."""
    from PySide6.QtCore import QEventLoop

    end = time.monotonic() + seconds
    while True:
        app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 20)
        if time.monotonic() >= end:
            return
        time.sleep(0.005)


def wait_until(app: Any, done: Callable[[], bool], timeout: float, what: str) -> None:
    """Run the event loop until ``done()``; GdsimError naming ``what`` after ``timeout`` s."""
    end = time.monotonic() + timeout
    while not done():
        if time.monotonic() > end:
            raise GdsimError(f"{what} did not happen within {timeout:g} s")
        _pump(app, 0.01)


# ------------------------------------------------------------------------------ running


def default_steps(session: Session | None, view: str, window: Any) -> int:
    if view == "surfaces":
        return DEFAULT_RACE_STEPS
    tv = window.training_view
    return max(1, tv.progress.maximum())  # epochs x batches per epoch of the run shown


def run_surfaces(window: Any, steps: int) -> None:
    """``steps`` race steps, the last through the view (plots, tools and status follow)."""
    app = _qt_app()
    view = window.surface_view
    wait_until(app, lambda: not view.model.replaying, 600, "replaying the session")
    wait_until(app, lambda: not view.plots.map_pending, 600, "computing the map")
    view.pause()
    if steps > 1:
        view.race.step(steps - 1)
    if steps > 0:
        view.step_once()
    _pump(app)


def run_training(window: Any, steps: int) -> None:
    """Train ``steps`` batches on the view's own worker, then wait for the decision boundary
    of the last step and draw every curve (the view throttles them otherwise)."""
    app = _qt_app()
    view = window.training_view
    controller = view.controller
    wait_until(app, lambda: controller.alive, 30, "starting the training worker")
    total = max(1, view.progress.maximum())
    target = min(steps, total)
    if target > 0:
        controller.send(Step(target))

    def trained() -> bool:
        engine = controller.engine
        if view.message_text() and not controller.alive:
            raise GdsimError(f"training failed: {view.message_text()}")
        ended = engine is not None and engine.state in ("finished", "diverged")
        return view.progress.value() >= target or (ended and view.progress.value() > 0)

    wait_until(app, trained, TRAIN_TIMEOUT_S, f"training {target} batches")
    done = view.progress.value()
    plots = view.plots
    try:
        wait_until(app, lambda: plots.boundary_step >= done, BOUNDARY_TIMEOUT_S, "the boundary")
    except GdsimError:
        pass  # a diverged network may have no boundary to draw: show what there is
    _pump(app, 0.1)
    plots.flush()
    _pump(app)


def view_of(window: Any, key: str) -> Any:
    """The window's ``key`` view, building only that one (the window builds views lazily)."""
    view = getattr(window, "view", None)
    return view(key) if callable(view) else window.views[key]


def show_view(window: Any, key: str) -> Any:
    """Make the ``key`` view's tab current and return the view (whatever page holds it)."""
    show = getattr(window, "show_view", None)
    if callable(show):
        return show(key)
    view = view_of(window, key)
    tabs = window.tabs
    for i in range(tabs.count()):
        page = tabs.widget(i)
        if page is view or page.isAncestorOf(view):
            tabs.setCurrentIndex(i)
    return view


def current_key(window: Any) -> str:
    """The key of the view whose tab is current: "surfaces" or "training"."""
    key = getattr(window, "current_key", None)
    if callable(key):
        return key()
    page = window.tabs.currentWidget()
    tv = window.training_view
    return "training" if page is tv or page.isAncestorOf(tv) else "surfaces"


def _part_widget(window: Any, view: str, part: str) -> Any:
    v = view_of(window, view)
    if part == "window":
        return window
    if part == "view":
        return v
    if part == "plots":
        return v.splitter
    if view != "surfaces":
        raise GdsimError("--part map is the Surfaces view's map; use plots for training")
    return v.plots.map


def fit_size(window: Any, widget: Any, size: tuple[int, int]) -> None:
    """Resize the window until ``widget`` is ``size`` (layouts share space in proportion, so
    a few rounds; the window's minimum size wins if the part cannot be that small)."""
    app = _qt_app()
    if widget is window:
        window.resize(*size)
        _pump(app, 0.05)
        return
    for _ in range(6):
        dw, dh = size[0] - widget.width(), size[1] - widget.height()
        if dw == 0 and dh == 0:
            return
        window.resize(max(64, window.width() + dw), max(64, window.height() + dh))
        _pump(app, 0.05)


def _build_window(theme: str, restore: bool, settings_dir: str | None) -> Any:
    from app.main_window import MainWindow
    from app.theme import get_theme
    from core.engine.runtime import configure_torch

    configure_torch()
    _qt_app()
    if restore:
        window = MainWindow()
    else:
        window = MainWindow(restore=False, settings_file=os.path.join(settings_dir or "", "s.ini"))
    if theme:
        get_theme().set_theme(theme)
    return window


def _close(window: Any) -> None:
    """Stop the window's views and threads without saving settings (no closeEvent)."""
    app = _qt_app()
    try:
        window.shutdown()
    finally:
        window.hide()
        window.deleteLater()
        _pump(app)


class _ThemeKept:
    """Restore the process's theme afterwards (an in-process caller keeps its look)."""

    def __enter__(self) -> _ThemeKept:
        from app.theme import get_theme

        th = get_theme()
        self.name, self.scale = th.name, th.scale
        return self

    def __exit__(self, *exc: object) -> None:
        from app.theme import get_theme

        th = get_theme()
        if (th.name, th.scale) != (self.name, self.scale):
            th.configure(self.name, self.scale)


# ------------------------------------------------------------------------------ the commands


def render(
    session: Session,
    output: str,
    *,
    steps: int | None = None,
    view: str | None = None,
    part: str | None = None,
    size: tuple[int, int] | None = None,
    scale: float = 1.0,
    theme: str = "light",
    frames: int | None = None,
    fps: float = 15.0,
) -> dict[str, Any]:
    """Draw ``session`` offscreen into ``output`` (.png or .gif); returns what was made.

    Everything cheap is checked before the window is built (GdsimError, one line).
    """
    from app import export

    kind = _output_kind(output)
    view = view or session.view
    if view not in VIEWS:
        raise GdsimError(f"--view must be surfaces or training, got {view!r}")
    if kind == "gif" and view != "surfaces":
        raise GdsimError("a GIF animates the Surfaces race; draw the Training view as a .png")
    part = part or ("map" if kind == "gif" else "window")
    if part not in PARTS:
        raise GdsimError(f"--part must be one of {', '.join(PARTS)}, got {part!r}")
    if part == "map" and view != "surfaces":
        raise GdsimError("--part map is the Surfaces view's map; use plots for training")
    section = session.surfaces if view == "surfaces" else session.training
    if section is None:
        raise GdsimError(
            f"this session has no {view} section (it is about {session.view}); "
            f"leave out --view or pick a {view} preset"
        )
    limit = MAX_RACE_STEPS if view == "surfaces" else MAX_TRAIN_STEPS
    if steps is not None and not 0 <= steps <= limit:
        raise GdsimError(f"--steps must be between 0 and {limit}, got {steps}")
    scale = export._check_scale(scale)
    if kind == "gif":
        if frames is not None and not 2 <= frames <= export.MAX_FRAMES:
            raise GdsimError(f"--frames must be between 2 and {export.MAX_FRAMES}, got {frames}")
        if not (math.isfinite(fps) and 1 <= fps <= export.MAX_FPS):
            raise GdsimError(f"--fps must be between 1 and {export.MAX_FPS:g}, got {fps:g}")
        export._pillow()  # says how to install it, before any work
    check_writable(output, "output")

    app = _qt_app()
    with _ThemeKept(), tempfile.TemporaryDirectory(prefix="gdsim-render-") as tmp:
        window = _build_window(theme, restore=False, settings_dir=tmp)
        try:
            window.resize(*DEFAULT_WINDOW)
            window.apply_session(session)
            show_view(window, view)
            widget = _part_widget(window, view, part)
            window.show()
            _pump(app, 0.05)
            if size is not None:
                fit_size(window, widget, size)
            n = default_steps(session, view, window) if steps is None else steps
            result: dict[str, Any] = {"view": view, "part": part, "steps": n}
            if kind == "png":
                if view == "surfaces":
                    run_surfaces(window, n)
                else:
                    run_training(window, n)
                _pump(app, 0.05)
                result["pixels"] = export.export_png(widget, output, scale)
            else:
                run_surfaces(window, 0)  # a replayed session is where the GIF starts
                speed = session.surfaces.speed if session.surfaces is not None else 100.0
                nframes = frames or gif_frames(n, speed, fps)
                recorder = export.export_gif(
                    window.surface_view,
                    output,
                    frames=nframes,
                    steps_per_frame=max(n, 1) / max(1, nframes - 1),
                    fps=fps,
                    scale=scale,
                    widget=widget,
                    from_start=False,
                )
                result["frames"] = recorder.writer.frames_written
                result["pixels"] = (
                    round(widget.width() * scale),
                    round(widget.height() * scale),
                )
        finally:
            _close(window)
    return result


def gif_frames(steps: int, speed: float, fps: float) -> int:
    """Frames that play ``steps`` at the session's ``speed`` (steps/s), within 2..150."""
    natural = math.ceil(max(steps, 1) * fps / max(speed, 1e-9)) + 1
    return int(min(MAX_GIF_FRAMES, max(2, natural)))


def run(args: argparse.Namespace) -> int:
    """The subcommand."""
    kind = _output_kind(args.output)  # before reading anything
    size = parse_size(args.size) if args.size else None
    session, name = read_source(args.preset, args.session)
    result = render(
        session,
        args.output,
        steps=args.steps,
        view=args.view,
        part=args.part,
        size=size,
        scale=args.scale,
        theme=args.theme,
        frames=args.frames,
        fps=args.fps,
    )
    w, h = result["pixels"]
    what = "batches" if result["view"] == "training" else "steps"
    extra = f", {result['frames']} frames" if kind == "gif" else ""
    print(f"wrote {args.output}: {name}, {result['view']} {result['part']}, {w}x{h} px, "
          f"{result['steps']} {what}{extra}")  # fmt: skip
    return 0


def screenshot(
    path: str,
    session: Session | None = None,
    steps: int | None = None,
    scale: float = 1.0,
    theme: str | None = None,
) -> tuple[int, int]:
    """The real window (the user's saved state, or ``session``), run for ``steps`` on its
    current view, saved as a PNG of the whole window. Settings are not written."""
    from app import export

    if _output_kind(path) != "png":
        raise GdsimError(f"--screenshot writes a PNG: the name must end in .png, got {path}")
    scale = export._check_scale(scale)
    check_writable(path, "screenshot")
    app = _qt_app()
    with _ThemeKept():
        window = _build_window(theme or "", restore=True, settings_dir=None)
        try:
            if session is not None:
                window.apply_session(session)
            window.show()
            _pump(app, 0.05)
            view = current_key(window)
            n = default_steps(session, view, window) if steps is None else steps
            limit = MAX_RACE_STEPS if view == "surfaces" else MAX_TRAIN_STEPS
            if not 0 <= n <= limit:
                raise GdsimError(f"--steps must be between 0 and {limit}, got {n}")
            if view == "surfaces":
                run_surfaces(window, n)
            else:
                run_training(window, n)
            _pump(app, 0.05)
            return export.export_png(window, path, scale)
        finally:
            _close(window)
