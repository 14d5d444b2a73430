"""Settings fuzz: a settings file full of garbage, wrong types or impossible values must cost the
user their preferences, never their window. (This file builds the real window, offscreen: the
settings are read by the views themselves. tests/gui/conftest.py gives every test its own
settings folder, no error dialogs and the light theme at 100 % afterwards.)

For every corrupted file: the window starts, no unexpected exception is logged (a view's restore
falling over shows up as an ERROR record), every setting it shows is valid (theme, zoom, tab,
surface, start, speed, optimizers, training settings), the race still steps, and after closing
it the rewritten file restores cleanly, without a single warning.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QWidget

from app.main_window import MainWindow
from app.theme import MAX_ZOOM, MIN_ZOOM, THEMES, get_theme
from app.window_geometry import restore_geometry
from core.files.session import MAX_RUNNERS, SPEED_MAX, SPEED_MIN

DEFAULT_RUNNERS = 4  # the surfaces view's opening race
KEYS = {
    "General": ["version"],
    "appearance": ["theme", "zoom"],
    "window": ["geometry", "state", "tab"],
    "views": [
        "surfaces\\surface", "surfaces\\startX", "surfaces\\startY", "surfaces\\speed",
        "surfaces\\lossLogY", "surfaces\\panelExpanded", "surfaces\\runners\\1\\spec",
        "surfaces\\runners\\1\\label", "surfaces\\runners\\1\\visible",
        "surfaces\\runners\\2\\spec", "surfaces\\runners\\size", "surfaces\\noise",
        "surfaces\\seed", "surfaces\\horizon", "surfaces\\runners\\1\\scheduler",
        "surfaces\\runners\\1\\startX", "surfaces\\runners\\1\\startY", "surfaces\\splitter",
        "surfaces\\plotTab", "surfaces\\selected", "surfaces\\session", "training\\dataset",
        "training\\noise", "training\\samples", "training\\seed", "training\\hidden",
        "training\\activation", "training\\optimizers", "training\\scheduler", "training\\batch",
        "training\\epochs", "training\\patience", "training\\stopEarly", "training\\device",
        "training\\logLoss", "training\\rawLoss", "training\\splitter",
        "training\\rightSplitter", "training\\panelExpanded", "training\\option_arms",
    ],
}  # fmt: skip
NASTY = [
    "", " ", "nan", "NaN", "inf", "-inf", "1e400", "-1e400", "1e-400", "-0", "0", "-1",
    "2147483648", "9" * 60, "0x10", "true", "false", "perhaps", '"', '"unterminated', "\\",
    "\\x00", "a, b, c", "@Variant(\\0\\0\\0\\x7f\\0\\0\\0\\x1fgarbage)", "@Variant(", "@ByteArray(",
    "@ByteArray(\\xff\\xfe)", "@Invalid()", "@Rect(1 2 3)", "@Size(-5 -5)", "x**9**9**9",
    "Adam(lr=-1)", "SGD(lr=0.1, momentum=2)", "__import__('os')", "pkg.mod:Class",
    "rosenbrock", "dark", "training", "cuda:7", "1e308", "16,16,16,16,16,16,16,16,16",
    "\u202e\u0000\ufffd", "é" * 30, "[General]", "=", "a=b=c", ";comment", "#hash",
]  # fmt: skip


def build(qtbot, path: Path) -> MainWindow:
    win = MainWindow(settings_file=path)
    win.training_view  # noqa: B018 - built lazily; building it restores its settings too
    return win


def dispose(win: MainWindow) -> None:
    """Close and really delete the window now, not at the end of the test (several windows are
    started per test here; deferred deletes need an explicit flush outside an event loop)."""
    from PySide6.QtCore import QEvent
    from PySide6.QtWidgets import QApplication

    win.close()
    win.deleteLater()
    QApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete.value)


def fresh_layout(win: MainWindow) -> bool:
    """Size and docks as a window without saved geometry/state has them (the default size fitted
    to this screen, the code panel docked on the right and hidden): a refused value changed
    nothing."""
    panel = win.code_panel
    unsaved = QWidget()
    restore_geometry(unsaved, None)
    return (
        win.size() == unsaved.size()
        and win.dockWidgetArea(panel) == Qt.DockWidgetArea.RightDockWidgetArea
        and panel.isHidden()
        and not panel.isFloating()
    )


def check_sane(win: MainWindow) -> None:
    theme = get_theme()
    assert theme.name in THEMES and MIN_ZOOM <= theme.scale <= MAX_ZOOM
    assert 0 <= win.tabs.currentIndex() < win.tabs.count()
    sv = win.surface_view
    assert 1 <= len(sv.entries) <= MAX_RUNNERS
    assert SPEED_MIN <= sv.model.speed <= SPEED_MAX
    assert all(math.isfinite(v) for v in sv.race.start)
    win.training_view.controls.config()  # valid training settings (GdsimError otherwise)
    sv.step_once()
    assert sv.race.t == 1 or not sv.race.active


def ini(sections: dict[str, list[tuple[str, str]]]) -> str:
    out = []
    for section, pairs in sections.items():
        out.append(f"[{section}]")
        out += [f"{key}={value}" for key, value in pairs]
        out.append("")
    return "\n".join(out)


def start_close_restart(qtbot, caplog, path: Path) -> None:
    """Start on ``path``, check, close (rewrites it), start again: it must restore cleanly."""
    with caplog.at_level(logging.WARNING, logger="gdsim"):
        win = build(qtbot, path)
        errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
        assert errors == [], errors
        check_sane(win)
        dispose(win)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="gdsim"):
        again = build(qtbot, path)
        noisy = [r.getMessage() for r in caplog.records if r.name.startswith("gdsim")]
        assert noisy == [], noisy
        check_sane(again)
        dispose(again)


# --- a table of targeted corruptions, each with the default it must fall back to ------------

CASES = {
    "zoom-not-a-number": ("appearance", "zoom", "banana", lambda w: get_theme().scale == 1.0),
    "zoom-infinite": ("appearance", "zoom", "inf", lambda w: get_theme().scale == 1.0),
    "zoom-huge": ("appearance", "zoom", "1e308", lambda w: get_theme().scale == 1.0),
    "theme-unknown": ("appearance", "theme", "purple", lambda w: get_theme().name == "light"),
    "tab-unknown": ("window", "tab", "7", lambda w: w.tabs.currentIndex() == 0),
    "geometry-not-binary": ("window", "geometry", "12", fresh_layout),
    "geometry-garbage-bytes": ("window", "geometry", "@ByteArray(\\xff\\0\\x1)", fresh_layout),
    "state-variant-garbage": ("window", "state", "@Variant(\\0\\0\\0\\x7fjunk)", fresh_layout),
    "surface-unknown": (
        "views", "surfaces\\surface", "no-such-surface",
        lambda w: w.surface_view.race.surface.name == "rosenbrock",
    ),
    "surface-bad-expression": (
        "views", "surfaces\\surface", "x**9**9**9 +",
        lambda w: w.surface_view.race.surface.name == "rosenbrock",
    ),
    "start-nan": ("views", "surfaces\\startX", "nan", lambda w: w.surface_view.race.start == (-1.2, 1.0)),
    "start-too-far": (
        "views", "surfaces\\startY", "1e300", lambda w: w.surface_view.race.start == (-1.2, 1.0)
    ),
    "speed-negative": ("views", "surfaces\\speed", "-5", lambda w: w.surface_view.model.speed == 100.0),
    "runner-spec-code": (
        "views", "surfaces\\runners\\1\\spec", "__import__('os').system('x')",
        lambda w: len(w.surface_view.entries) == DEFAULT_RUNNERS,
    ),
    "runner-array-size-garbage": (
        "views", "surfaces\\runners\\size", "lots",
        lambda w: len(w.surface_view.entries) == DEFAULT_RUNNERS,
    ),
    "hidden-garbage": (
        "views", "training\\hidden", "16,x", lambda w: w.training_view.controls.config().hidden == (16, 16)
    ),
    "optimizer-import-path": (
        "views", "training\\optimizers", "os.path:join",
        lambda w: w.training_view.controls.config().optimizers == ("Adam(lr=0.01)",),
    ),
    "batch-zero": ("views", "training\\batch", "0", lambda w: w.training_view.controls.config().batch_size == 32),
    "samples-huge": (
        "views", "training\\samples", "9" * 60, lambda w: w.training_view.controls.config().samples == 1000
    ),
    "device-missing-gpu": (
        "views", "training\\device", "cuda:7", lambda w: w.training_view.controls.device() == "cpu"
    ),
    "dataset-unknown": (
        "views", "training\\dataset", "mnist", lambda w: w.training_view.controls.config().dataset == "moons"
    ),
}  # fmt: skip


#: Keys a case needs beside its own to be read at all (an array entry below the array's size, a
#: start's other coordinate).
CASE_EXTRA = {
    "runner-spec-code": [("surfaces\\runners\\size", "1")],
    "start-too-far": [("surfaces\\startX", "0.5")],
    "start-nan": [("surfaces\\startY", "0.5")],
}


#: What the warning says when it names neither the key nor the value as written.
WARN_WORD = {"start-too-far": "start point"}


def case_keys(case: str) -> set[str]:
    return {CASES[case][1]} | {k for k, _ in CASE_EXTRA.get(case, [])}


def rounds() -> list[list[str]]:
    """The cases in rounds with at most one value per key (a file has one value per key)."""
    out: list[list[str]] = []
    for case in sorted(CASES):
        target = next((r for r in out if all(not case_keys(c) & case_keys(case) for c in r)), None)
        if target is None:
            target = []
            out.append(target)
        target.append(case)
    return out


@pytest.mark.parametrize("cases", rounds(), ids=lambda cases: f"{len(cases)}-cases")
def test_corrupt_settings_fall_back_to_their_defaults(qtbot, caplog, tmp_path, cases):
    sections: dict[str, list[tuple[str, str]]] = {}
    for case in cases:
        section, key, value, _ = CASES[case]
        sections.setdefault(section, []).append((key, value))
        sections[section] += CASE_EXTRA.get(case, [])
    path = tmp_path / "gdsim.ini"
    path.write_text(ini(sections), encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="gdsim"):
        win = build(qtbot, path)
        try:
            for case in cases:
                assert CASES[case][3](win), case
            errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
            assert errors == [], errors
            check_sane(win)
        finally:
            dispose(win)
    warned = " ".join(r.getMessage() for r in caplog.records if r.name.startswith("gdsim"))
    for case in cases:
        key, value = CASES[case][1].split("\\")[-1], CASES[case][2]
        if key in ("geometry", "state", "size"):
            continue  # Qt refuses those itself, without a word
        said = key in warned or value[:20] in warned or WARN_WORD.get(case, "?") in warned
        assert said, f"{case}: the bad value was dropped silently"


@pytest.mark.parametrize(
    "content",
    [
        pytest.param(bytes(range(256)) * 64, id="binary"),
        pytest.param(b"[appearance]\nzoom=1.5\n[views]\nsurfaces\\speed=5", id="truncated"),
        pytest.param(b"[views]\nsurfaces\\runners\\size=3\nsurfaces\\runners\\", id="cut-in-key"),
        pytest.param(b"\xef\xbb\xbf[General]\nversion=99\n", id="bom-future-version"),
        pytest.param(b"[" * 10_000 + b"]=" * 10_000, id="brackets"),
        pytest.param(
            b"[views]\n" + b"training\\hidden=" + b"1," * 200_000 + b"1\n", id="long-line"
        ),
        pytest.param(b"", id="empty"),
    ],
)
def test_a_garbage_file_starts_the_window_with_defaults(qtbot, caplog, tmp_path, content):
    path = tmp_path / "gdsim.ini"
    path.write_bytes(content)
    start_close_restart(qtbot, caplog, path)


def test_a_settings_file_that_cannot_be_read(qtbot, caplog, tmp_path):
    path = tmp_path / "gdsim.ini"
    path.mkdir()  # a directory where the file should be
    with caplog.at_level(logging.WARNING, logger="gdsim"):
        win = build(qtbot, path)
        assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
        check_sane(win)
        dispose(win)


values = st.one_of(
    st.sampled_from(NASTY),
    st.text(max_size=30).map(lambda s: s.replace("\n", " ").replace("\r", " ")),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
)
pairs = st.lists(
    st.tuples(st.sampled_from([(s, k) for s, ks in KEYS.items() for k in ks]), values),
    min_size=1,
    max_size=12,
)


@settings(
    max_examples=10,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(pairs=pairs)
def test_fuzzed_settings_never_stop_the_window(qtbot, caplog, tmp_path_factory, pairs):
    sections: dict[str, list[tuple[str, str]]] = {}
    for (section, key), value in pairs:
        if key == "surfaces\\runners\\size":  # a huge size is a known bug (see below)
            value = value if value in ("", "lots", "-1") else "2"
        sections.setdefault(section, []).append((key, value))
    path = tmp_path_factory.mktemp("fuzz") / "gdsim.ini"
    path.write_text(ini(sections), encoding="utf-8")
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="gdsim"):
        win = build(qtbot, path)
        try:
            errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
            assert errors == [], errors
            check_sane(win)
        finally:
            dispose(win)


def test_a_huge_saved_runner_count_is_capped(qtbot, caplog, tmp_path):
    path = tmp_path / "gdsim.ini"
    path.write_text(
        ini({"views": [("surfaces\\runners\\size", "20000"),
                       ("surfaces\\runners\\1\\spec", '"Adam(lr=0.01)"')]}),
        encoding="utf-8",
    )  # fmt: skip
    with caplog.at_level(logging.WARNING, logger="gdsim"):
        win = build(qtbot, path)
        dispose(win)
    reads = [r for r in caplog.records if "ignoring saved optimizer" in r.getMessage()]
    assert len(reads) <= MAX_RUNNERS  # bounded work, whatever the file claims


HUGE = "1" + "0" * 400  # a whole number beyond every float (309+ digits)


def test_one_bad_saved_value_costs_only_that_value(qtbot, caplog, tmp_path):
    """A 400-digit lr, a Unicode digit in the hidden sizes, a huge schedule factor: each is
    dropped alone (the other runner, the epochs stay), and a huge version is quoted exactly."""
    path = tmp_path / "gdsim.ini"
    path.write_text(
        ini({
            "General": [("version", "9" * 24)],
            "views": [
                ("surfaces\\runners\\size", "2"),
                ("surfaces\\runners\\1\\spec", f'"SGD(lr={HUGE})"'),
                ("surfaces\\runners\\2\\spec", '"Adam(lr=0.05)"'),
                ("surfaces\\runners\\2\\scheduler", f'"StepLR(gamma={HUGE})"'),
                ("training\\hidden", '"16,\u2460"'),
                ("training\\epochs", "7"),
                ("training\\optimizers", f'"SGD(lr={HUGE})", "SGD(lr=0.2)"'),
            ],
        }),
        encoding="utf-8",
    )  # fmt: skip
    with caplog.at_level(logging.WARNING, logger="gdsim"):
        win = build(qtbot, path)
        try:
            errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
            assert errors == [], errors
            runners = [e.runner for e in win.surface_view.entries.values()]
            assert [str(r.spec) for r in runners] == ["Adam(lr=0.05)"]
            assert runners[0].scheduler is None
            config = win.training_view.controls.config()
            assert config.hidden == (16, 16) and config.epochs == 7
            assert config.optimizers == ("SGD(lr=0.2)",)
        finally:
            dispose(win)
    warned = " ".join(r.getMessage() for r in caplog.records)
    assert "lr is too large" in warned and "hidden" in warned and "StepLR gamma" in warned
    assert "v" + "9" * 24 in warned  # not v999999999999999983222784 (rounded through a float)
    assert HUGE not in warned  # shortened


def test_a_fifo_at_the_settings_path_does_not_hang_the_start(tmp_path):
    """Qt reads the settings file as it opens it: a fifo there would wait for a writer forever.
    In a subprocess with a timeout, so a regression fails instead of hanging the suite."""
    import os
    import subprocess
    import sys

    folder = tmp_path / "config" / "fifo-org"
    folder.mkdir(parents=True)
    fifo = folder / "gdsim.ini"
    os.mkfifo(fifo)
    shot = tmp_path / "shot.png"
    env = dict(
        os.environ, XDG_CONFIG_HOME=str(tmp_path / "config"), GDSIM_SETTINGS_ORG="fifo-org",
        QT_QPA_PLATFORM="offscreen", GDSIM_ERROR_DIALOGS="0",
    )  # fmt: skip
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run(
        [sys.executable, "-m", "app", "--screenshot", str(shot), "--steps", "0"],
        capture_output=True, text=True, timeout=180, env=env, cwd=root,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert shot.is_file()
    assert f"settings file {fifo}: not a regular file" in out.stderr
    assert os.path.exists(fifo) and not fifo.is_file()  # left alone, not replaced
