"""Open the real window on the X display ``DISPLAY`` names, measure its layout, print JSON.

Run by ``test_real_display.py`` on a fresh Xvfb of its own (no window manager), as
``python -m tests.gui.xvfb_probe --settings FILE --zooms 1,2 [--shots DIR]``: the window
restores from ``FILE`` (missing or empty: a first start), each view is shown at each zoom,
and every plot's size and whether it is fully on screen is reported; closing the window
saves the settings back to ``FILE``, so a second run on another screen size starts from
settings saved on the first. ``--shots DIR`` also fills the plots (a preset, run for a while)
and saves a screenshot of the screen per view, zoom and ``--themes``, for a person to look at.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

PLOTS = {
    "surfaces": ("surfaceView", "surfaceLossPlot"),
    "training": ("lossPlot", "accuracyPlot", "boundaryPlot"),
}
CONTROLS = {
    "surfaces": ("runButton", "stepButton", "resetButton", "addOptimizerButton"),
    "training": ("trainRunButton", "trainStepButton", "trainResetButton"),
}
PRESETS = {"surfaces": "rosenbrock-adam-vs-sgd", "training": "early-stopping"}


def _rect(r) -> list[int]:
    return [r.x(), r.y(), r.width(), r.height()]


def _shown_rect(widget):
    """``widget``'s rectangle in global coordinates, cut by every parent (a scroll area)."""
    from PySide6.QtCore import QPoint, QRect

    shown = QRect(widget.mapToGlobal(QPoint(0, 0)), widget.size())
    parent = widget.parentWidget()
    while parent is not None:
        shown &= QRect(parent.mapToGlobal(QPoint(0, 0)), parent.size())
        parent = parent.parentWidget()
    return shown


def measure(window, key: str) -> dict:
    """Every plot of view ``key`` (brought to the front of its deck) and its run buttons."""
    import pyqtgraph as pg
    from PySide6.QtCore import QPoint, QRect
    from PySide6.QtWidgets import QApplication, QPushButton, QTabWidget

    from app.render import _pump
    from app.widgets.plot_deck import PlotDeck

    app = QApplication.instance()
    view = window.show_view(key)
    _pump(app, 0.3)
    plots = {}
    for name in PLOTS[key]:
        plot = next(v for v in window.findChildren(pg.GraphicsView) if v.objectName() == name)
        for leaf, _title in view.deck.leaves():
            if leaf is plot or leaf.isAncestorOf(plot):
                view.deck.show_widget(leaf)
        _pump(app, 0.2)
        full = QRect(plot.mapToGlobal(QPoint(0, 0)), plot.size())
        plots[name] = {
            "size": [plot.width(), plot.height()],
            "visible": plot.isVisible(),
            "fully_shown": plot.isVisible() and _shown_rect(plot) == full,
        }
    controls = {}
    for name in CONTROLS[key]:
        button = window.findChild(QPushButton, name)
        full = QRect(button.mapToGlobal(QPoint(0, 0)), button.size())
        controls[name] = button.isVisible() and _shown_rect(button) == full
    panel = view.control_panel()
    flips: list[str] = []  # a deck that keeps changing mode at a fixed size flip-flops
    for deck in view.findChildren(PlotDeck):
        deck.modeChanged.connect(flips.append)
    _pump(app, 0.5)
    shown = [t for t in view.deck.findChildren(QTabWidget) if t.isVisible() and t.count()]
    return {
        "plots": plots,
        "tabs_in_tabs": sum(1 for o in shown for i in shown if o is not i and o.isAncestorOf(i)),
        "pages_behind_shown": sum(  # a page behind the front one that still draws
            1
            for t in view.deck.findChildren(QTabWidget)
            for i in range(t.count())
            if t.widget(i) is not t.currentWidget() and t.widget(i).isVisible()
        ),
        "controls": controls,
        "idle_mode_changes": len(flips),
        "panel": {"width": panel.width(), "expanded": panel.isExpanded()},
        "view_width": view.width(),
    }


def fill(window, key: str) -> None:
    """A preset run for a while, so a screenshot shows what a lecture shows."""
    from PySide6.QtWidgets import QApplication

    from app.render import _pump, run_surfaces, run_training

    window.show_view(key)
    assert window.sessions.load_preset(PRESETS[key]), PRESETS[key]
    _pump(QApplication.instance(), 0.3)
    if key == "surfaces":
        run_surfaces(window, 400)
    else:
        run_training(window, window.training_view.progress.maximum())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="xvfb_probe")
    parser.add_argument("--settings", required=True)
    parser.add_argument("--zooms", default="1")
    parser.add_argument("--views", default="surfaces,training")
    parser.add_argument("--shots")
    parser.add_argument("--themes", default="light")
    args = parser.parse_args(argv)
    os.environ["QT_QPA_PLATFORM"] = "xcb"
    os.environ.setdefault("GDSIM_ERROR_DIALOGS", "0")
    from app.main import import_torch_before_qt

    import_torch_before_qt()
    from PySide6.QtWidgets import QApplication

    app = QApplication(["gdsim"])
    from app.main_window import MainWindow
    from app.render import _pump
    from app.theme import get_theme

    window = MainWindow(settings_file=args.settings)
    window.show()
    _pump(app, 0.5)
    screen = window.screen()
    out = {
        "screen": _rect(screen.geometry()),
        "available": _rect(screen.availableGeometry()),
        "frame": _rect(window.frameGeometry()),
        "geometry": _rect(window.geometry()),
        "zooms": {},
    }
    views = args.views.split(",")
    if args.shots:
        for key in views:
            fill(window, key)
    for zoom in (float(z) for z in args.zooms.split(",")):
        get_theme().set_scale(zoom)
        _pump(app, 0.3)
        least = get_theme().min_plot_size()
        entry = {"least": [least.width(), least.height()], "frame": _rect(window.frameGeometry())}
        for key in views:
            entry[key] = measure(window, key)
            for theme in args.themes.split(",") if args.shots else ():
                get_theme().set_theme(theme)
                _pump(app, 0.5)
                name = f"{key}-{screen.size().width()}-{theme}-{round(zoom * 100)}.png"
                # the screen as the X server shows it (what is off-screen is not in it)
                subprocess.run(
                    ["import", "-window", "root", str(Path(args.shots) / name)],
                    check=True,
                    timeout=60,
                )
        out["zooms"][str(zoom)] = entry
    get_theme().set_theme("light")
    window.close()  # saves the settings
    _pump(app, 0.2)
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
