"""``gdsim render`` and ``gdsim --screenshot`` as a user runs them: the subcommand's entry (in
process, and once as a real process with no display), the files it writes, and its refusals."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from PIL import Image
from PySide6.QtGui import QImage

from app import export
from app.main import main
from core.cli.main import run_subcommand
from core.files.session import list_presets


def render(*argv: str) -> int:
    return run_subcommand("render", list(argv), "app.render")


def _pixels(path) -> np.ndarray:
    img = QImage(str(path))
    assert not img.isNull(), f"{path} is not a PNG Qt can read"
    return export.qimage_to_rgb(img)


def test_render_a_preset_to_png(qtbot, tmp_path, capsys):
    out = tmp_path / "ravine.png"
    assert render("--preset", "Ravine", "--steps", "30", "-o", str(out)) == 0
    rgb = _pixels(out)
    assert rgb.shape == (800, 1280, 3)  # the whole window at its default size
    assert rgb.std() > 20
    said = capsys.readouterr().out
    assert said.startswith(f"wrote {out}: preset ravine-momentum, surfaces window, 1280x800 px")
    assert "30 steps" in said


def test_render_a_part_at_a_size_and_scale(qtbot, tmp_path):
    out = tmp_path / "map.png"
    args = [
        "--preset",
        "himmelblau-four-minima",
        "--steps",
        "5",
        "--part",
        "map",
        "--size",
        "500x400",
    ]
    assert render(*args, "--scale", "2", "--theme", "dark", "-o", str(out)) == 0
    rgb = _pixels(out)
    assert rgb.shape == (800, 1000, 3)
    assert rgb[:, :, :].mean() < 140  # the dark theme around a contour map


def test_render_a_training_preset(qtbot, tmp_path):
    out = tmp_path / "train.png"
    assert (
        render("--preset", "early-stopping", "--steps", "6", "--part", "plots", "-o", str(out)) == 0
    )
    rgb = _pixels(out)
    assert rgb.std() > 15 and rgb.shape[1] > 400


def test_render_a_preset_to_gif(qtbot, tmp_path, capsys):
    out = tmp_path / "ravine.gif"
    args = ["--preset", "ravine-momentum", "--steps", "12", "--frames", "4", "--size", "480x300"]
    assert render(*args, "-o", str(out)) == 0
    with Image.open(out) as im:
        assert im.n_frames == 4
        assert im.size == (480, 300)
        frames = []
        for i in range(im.n_frames):
            im.seek(i)
            frames.append(np.asarray(im.convert("RGB")))
    assert not np.array_equal(frames[0], frames[-1])
    assert "4 frames" in capsys.readouterr().out


def test_unknown_preset_lists_the_names_and_exits_2(qtbot, tmp_path, capsys):
    assert render("--preset", "no-such-thing", "-o", str(tmp_path / "x.png")) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("gdsim render: error: unknown preset 'no-such-thing'")
    assert "\n" not in err
    for info in list_presets():
        assert info.name in err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "argv, words",
    [
        (["--preset", "ravine-momentum", "-o", "{tmp}/x.jpg"], "must end in .png or .gif"),
        (["--preset", "early-stopping", "-o", "{tmp}/x.gif"], "GIF animates the Surfaces"),
        (
            ["--preset", "ravine-momentum", "--view", "training", "-o", "{tmp}/x.png"],
            "no training section",
        ),  # fmt: skip
        (["--preset", "ravine-momentum", "-o", "{tmp}/nope/x.png"], "does not exist"),
        (["--preset", "ravine-momentum", "--size", "big", "-o", "{tmp}/x.png"], "--size must"),
        (["--session", "{tmp}/missing.json", "-o", "{tmp}/x.png"], "cannot open session"),
        (["--preset", "ravine-momentum", "--scale", "10", "-o", "{tmp}/x.png"], "scale must"),
        (["--preset", "ravine-momentum", "--steps", "-1", "-o", "{tmp}/x.png"], "--steps must"),
    ],
)
def test_render_refusals_are_one_line_exit_2(qtbot, tmp_path, capsys, argv, words):
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    assert render(*argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("gdsim render: error: ") and words in err
    assert "\n" not in err
    assert not any(p.suffix in (".png", ".gif", ".jpg") for p in tmp_path.iterdir())


def test_render_needs_a_preset_or_a_session(qtbot, tmp_path, capsys):
    with pytest.raises(SystemExit) as info:  # argparse's usage error, as for every subcommand
        render("-o", str(tmp_path / "x.png"))
    assert info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err == "gdsim render: error: one of the arguments --preset --session is required"


def test_render_a_saved_session(qtbot, tmp_path):
    from core.files.session import RunnerState, Session, SurfacesState, save_session

    state = SurfacesState("bowl", (1.5, 1.5), (RunnerState("Adam(lr=0.1)", "mine"),), 50.0, 3)
    session_file = tmp_path / "mine.json"
    save_session(Session("Mine", "", "surfaces", state, None), session_file)
    out = tmp_path / "mine.png"
    assert (
        render("--session", str(session_file), "--steps", "2", "--part", "view", "-o", str(out))
        == 0
    )
    assert _pixels(out).std() > 15


def test_screenshot_writes_the_window_and_exits_0(qtbot, tmp_path, capsys):
    out = tmp_path / "shot.png"
    assert main(["--screenshot", str(out), "--preset", "saddle-escape", "--steps", "20"]) == 0
    rgb = _pixels(out)
    assert rgb.shape[0] >= 480 and rgb.shape[1] >= 640 and rgb.std() > 20
    assert f"wrote {out}" in capsys.readouterr().out


def test_screenshot_refuses_a_bad_preset_and_a_bad_name(qtbot, tmp_path, capsys):
    assert main(["--screenshot", str(tmp_path / "s.png"), "--preset", "nope"]) == 2
    assert "unknown preset 'nope'" in capsys.readouterr().err
    assert main(["--screenshot", str(tmp_path / "s.gif")]) == 2
    assert "writes a PNG" in capsys.readouterr().err
    assert main(["--steps", "3"]) == 2  # --steps without --screenshot: not a window option
    assert "go with --screenshot" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_gdsim_preset_opens_the_window_showing_it(qtbot, monkeypatch):
    from PySide6.QtWidgets import QApplication

    from app.main_window import MainWindow

    before = set(QApplication.topLevelWidgets())
    shown: list = []  # what was on screen while the event loop "ran" (main's window is freed after)

    def fake_exec() -> int:  # do not block the test
        shown.extend(w for w in QApplication.topLevelWidgets() if isinstance(w, MainWindow))
        return 0

    monkeypatch.setattr(QApplication, "exec", staticmethod(fake_exec))
    assert main(["--preset", "himmelblau-four-minima"]) == 0
    new = [w for w in shown if w not in before]
    assert len(new) == 1
    win = new[0]
    qtbot.addWidget(win)
    assert win.isVisible() and win.current_key() == "surfaces"
    assert win.surface_view.race.surface.name == "himmelblau"
    assert len(win.surface_view.entries) == 4
    win.close()


@pytest.mark.slow
def test_render_runs_as_a_real_process_without_a_display(tmp_path):
    out = tmp_path / "saddle.png"
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env.pop("QT_QPA_PLATFORM", None)  # render must go offscreen by itself
    cmd = [sys.executable, "-m", "app", "render", "--preset", "saddle-escape", "--steps", "10"]
    proc = subprocess.run(
        [*cmd, "--part", "view", "-o", str(out)],
        capture_output=True, text=True, timeout=300, env=env,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(f"wrote {out}: preset saddle-escape, surfaces view")
    assert _pixels(out).std() > 20
    bad = subprocess.run(
        [*cmd, "-o", str(tmp_path / "x.bmp")], capture_output=True, text=True, timeout=300, env=env
    )
    assert bad.returncode == 2
    assert bad.stderr.strip().startswith("gdsim render: error: -o must end in .png or .gif")


def test_the_window_imports_torch_before_pyside6(tmp_path):
    """PySide6 hooks every later import (``__feature_import__``); torch's ~1,000 modules through
    that hook cost ~0.15 s of each start here, so ``gdsim`` imports torch first."""
    watch = textwrap.dedent(
        """
        import os, sys, threading, time
        def leave_once_the_window_module_is_in():
            while "app.main_window" not in sys.modules:
                time.sleep(0.01)
            os._exit(0)
        threading.Thread(target=leave_once_the_window_module_is_in, daemon=True).start()
        from app.main import main
        main([])
        """
    )
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", watch],
        capture_output=True, text=True, timeout=300, env=env, cwd=tmp_path,
    )  # fmt: skip
    imported = [line.split("|")[-1].strip() for line in proc.stderr.splitlines() if "|" in line]
    first_qt = next(i for i, name in enumerate(imported) if name.startswith("PySide6"))
    assert "torch" in imported[:first_qt]
