"""Before any Qt call, `gdsim` says in one line why no window can open (no display, or PySide6's
X11 plugin missing a system library) instead of letting Qt abort the process."""

from __future__ import annotations

import ctypes

import pytest
from PySide6.QtWidgets import QApplication

import app.display as display
import app.main as app_main


@pytest.fixture
def no_qt_yet(monkeypatch):
    """As in a fresh `gdsim` process: no QApplication, a Linux desktop session to configure."""
    monkeypatch.setattr(display, "_qt_app_running", lambda: False)
    monkeypatch.setattr(display.sys, "platform", "linux")
    for name in ("QT_QPA_PLATFORM", "DISPLAY", "WAYLAND_DISPLAY"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_no_display_is_one_line_and_exit_1_before_any_window(no_qt_yet, capsys):
    before = len(QApplication.topLevelWidgets())
    assert app_main.main([]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("gdsim: error: no display") and "QT_QPA_PLATFORM=offscreen" in err
    assert "\n" not in err
    assert len(QApplication.topLevelWidgets()) == before  # nothing was built


def test_a_missing_xcb_library_is_named_with_the_packages_to_install(no_qt_yet):
    no_qt_yet.setenv("DISPLAY", ":0")

    def cannot_load(path, *args, **kwargs):
        raise OSError("libxcb-icccm.so.4: cannot open shared object file: No such file")

    no_qt_yet.setattr(ctypes, "CDLL", cannot_load)
    problem = display.display_problem()
    assert problem is not None and "(libxcb-icccm.so.4)" in problem
    assert "apt-get install" in problem and "libxcb-icccm4" in problem


@pytest.mark.parametrize(
    "env",
    [{"QT_QPA_PLATFORM": "offscreen"}, {"WAYLAND_DISPLAY": "wayland-0"}],
    ids=["offscreen", "wayland"],
)
def test_other_platforms_are_left_to_qt(no_qt_yet, env):
    for key, value in env.items():
        no_qt_yet.setenv(key, value)
    assert display.display_problem() is None


def test_a_loadable_plugin_is_no_problem(no_qt_yet):
    no_qt_yet.setenv("DISPLAY", ":0")
    no_qt_yet.setattr(ctypes, "CDLL", lambda path, *a, **k: object())
    assert display.display_problem() is None


def _free_display() -> str:
    """A display number no X server here listens on (no socket, no lock file)."""
    import os

    for n in range(4242, 4342):
        if not os.path.exists(f"/tmp/.X11-unix/X{n}") and not os.path.exists(f"/tmp/.X{n}-lock"):
            return f":{n}"
    pytest.skip("no free display number")


def test_a_display_with_no_server_is_one_line_and_exit_1(tmp_path):
    """DISPLAY names no running server: before, Qt aborted the process (exit 134) blaming
    libxcb-cursor0; now gdsim says so in one line and exits 1, before any window."""
    import os
    import subprocess
    import sys

    if display.x_server_answers(":0") is None:
        pytest.skip("libxcb is not installed here")
    env = {k: v for k, v in os.environ.items() if k not in ("QT_QPA_PLATFORM", "WAYLAND_DISPLAY")}
    env["DISPLAY"] = _free_display()
    env["HOME"] = str(tmp_path)
    code = "import sys, app.main; sys.exit(app.main.main([]))"
    proc = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 1, (proc.returncode, proc.stderr[-500:])
    err = proc.stderr.strip()
    assert err.startswith("gdsim: error: no X server answers on DISPLAY=" + env["DISPLAY"])
    assert "\n" not in err



def test_the_quick_start_installs_the_libraries_gdsim_names():
    """The README's Quick start has the Linux system-package step (it was only in
    Troubleshooting, so the first command failed on a fresh desktop), with the same packages
    gdsim names when one is missing."""
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text("utf-8")
    quick = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    assert "if on Linux" in quick
    assert f"sudo apt-get install {display.XCB_PACKAGES}" in quick
    assert quick.index("apt-get install") < quick.index("pip install")
