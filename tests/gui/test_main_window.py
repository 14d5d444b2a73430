"""The window shell: tabs, menus, run keys vs text fields, zoom, theme, settings."""

from __future__ import annotations

import logging

import pyqtgraph as pg
import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QDoubleSpinBox,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QTabWidget,
    QWidget,
)

from app.main_window import MainWindow, is_text_input
from app.settings import open_settings
from app.theme import get_theme
from tests.gui.helpers import shown


def _recorder(win: MainWindow, view):
    calls: list[str] = []
    targets = {k: (lambda k=k: calls.append(k)) for k in ("run", "step", "reset")}
    view.shortcut_targets = lambda: targets  # instance attribute: what dispatch() calls
    return calls


def test_tabs_views_and_names(window, qtbot):
    tabs = window.findChild(QTabWidget, "viewTabs")
    assert tabs is window.tabs and tabs.count() == 2
    assert [tabs.tabText(i) for i in range(2)] == ["Surfaces", "Training"]
    assert tabs.widget(0).objectName() == "surfacesPage"
    # the Training view is built when its tab is first shown (start-up time)
    assert window.findChild(QWidget, "trainingPage") is None
    assert tabs.widget(1).objectName() == "trainingTab"
    qtbot.mouseClick(
        tabs.tabBar(), Qt.MouseButton.LeftButton, pos=tabs.tabBar().tabRect(1).center()
    )
    # built in slices over the next event-loop turns (the click does not freeze the window)
    qtbot.waitUntil(lambda: window.findChild(QWidget, "trainingPage") is not None)
    view = window.findChild(QWidget, "trainingPage")
    qtbot.waitUntil(view.isVisible)
    assert view is window.training_view
    assert window.statusBar().findChild(type(window.status_label), "statusLine").text()


def test_the_training_view_built_in_slices_is_painted_once_laid_out(qtbot, window):
    """The last slices adopt the view unpainted (its decks choose split or tabs first) and
    paint it on the next turn: that turn must come, and a view asked for at once is whole."""
    window.show_tab("training")
    qtbot.waitUntil(lambda: window.training_page.view is not None)
    view = window.training_page.view
    qtbot.waitUntil(view.updatesEnabled)
    assert window.view("training") is view and view.isVisible()


def test_a_view_asked_for_at_once_is_built_whole(qtbot):
    win = MainWindow(restore=False)
    qtbot.addWidget(win)
    view = win.view("training")  # no event loop turn: every slice at once
    assert view.updatesEnabled() and win.training_page.view is view
    assert set(win.tools["training"]) == {"training_lrfinder", "training_landscape"}


def test_closing_while_the_training_view_is_half_built_is_clean(qtbot, capsys):
    """A tab click starts the Training view's build in slices; a window closed halfway (the
    view made, its tools not yet) deletes the unfinished view with the page, with no error
    from a half-deleted widget's event filter and no thread left."""
    from tests.gui.helpers import running_qthreads

    win = MainWindow(restore=False)  # not given to qtbot: this test deletes it
    win.show()
    qtbot.waitExposed(win)
    win.show_tab("training")
    qtbot.waitUntil(lambda: win.training_page.findChild(QWidget, "trainingPage") is not None)
    assert win.training_page.view is None  # made, not adopted: the build is halfway
    win.close()
    win.deleteLater()
    qtbot.wait(50)
    assert "Error calling Python override" not in capsys.readouterr().err
    assert running_qthreads() == []


def test_menus_and_actions_have_tips(window):
    titles = [a.text() for a in window.menuBar().actions()]
    assert titles == ["&File", "&View", "&Help"]
    names = {
        "actionQuit", "actionFullScreen", "actionZoomIn", "actionZoomOut", "actionZoomReset",
        "actionThemeLight", "actionThemeDark", "actionTogglePanel", "actionShortcuts",
        "actionAbout",
    }  # fmt: skip
    found = {a.objectName(): a for a in window.findChildren(QAction) if a.objectName()}
    assert names <= set(found)
    for name in names:
        assert found[name].statusTip() and found[name].toolTip() != found[name].text()
    shortcuts = {s.toString() for s in found["actionZoomIn"].shortcuts()}
    assert {"Ctrl+=", "Ctrl++"} <= shortcuts
    assert "F11" in {s.toString() for s in found["actionFullScreen"].shortcuts()}


def test_run_keys_go_to_the_current_view_with_focus_on_a_button(qtbot, window):
    calls_s = _recorder(window, window.surface_view)
    calls_t = _recorder(window, window.training_view)
    button = QPushButton("Some button", window.surface_view)
    window.surface_view.layout().addWidget(button)
    button.show()
    clicked = []
    button.clicked.connect(lambda: clicked.append(1))
    button.setFocus()
    qtbot.waitUntil(button.hasFocus)
    for key in (Qt.Key.Key_Space, Qt.Key.Key_S, Qt.Key.Key_Right, Qt.Key.Key_R):
        qtbot.keyClick(button, key)
    assert calls_s == ["step", "step", "reset"]
    assert clicked == [1]  # Space pressed the focused button, as in every Qt app
    qtbot.keyClick(button, Qt.Key.Key_Return)
    assert clicked == [1, 1] and calls_s == ["step", "step", "reset"]  # and so does Enter
    window.tabs.setCurrentIndex(1)
    window.training_view.setFocus()
    qtbot.keyClick(window.training_view, Qt.Key.Key_Space)
    assert calls_t == ["run"] and len(calls_s) == 3


def test_text_fields_swallow_the_run_keys(qtbot, window):
    calls = _recorder(window, window.surface_view)
    edit = QLineEdit(window.surface_view)
    spin = QDoubleSpinBox(window.surface_view)
    window.surface_view.layout().addWidget(edit)
    window.surface_view.layout().addWidget(spin)
    edit.show()
    spin.show()
    edit.setFocus()
    qtbot.waitUntil(edit.hasFocus)
    qtbot.keyClicks(edit, "sr x")
    qtbot.keyClick(edit, Qt.Key.Key_Right)
    assert edit.text() == "sr x"
    assert calls == []
    spin.setFocus()
    qtbot.waitUntil(spin.hasFocus)
    qtbot.keyClick(spin, Qt.Key.Key_Space)
    qtbot.keyClick(spin, Qt.Key.Key_R)
    assert calls == []
    edit.setReadOnly(True)  # a read-only field does not type: the keys work again
    edit.setFocus()
    qtbot.keyClick(edit, Qt.Key.Key_S)
    assert calls == ["step"]


def test_is_text_input_classifies_widgets(qtbot):
    edit, button = QLineEdit(), QPushButton()
    qtbot.addWidget(edit)
    qtbot.addWidget(button)
    assert is_text_input(edit) and not is_text_input(button) and not is_text_input(None)


def test_unoffered_action_reports_in_the_status_bar(qtbot, window):
    window.surface_view.shortcut_targets = lambda: {"run": None}
    window.surface_view.setFocus()
    qtbot.keyClick(window.surface_view, Qt.Key.Key_Space)
    assert "not available" in window.statusBar().currentMessage()


def test_f11_toggles_full_screen(qtbot, window):
    qtbot.keyClick(window, Qt.Key.Key_F11)
    qtbot.waitUntil(window.isFullScreen)
    assert window.window_actions.act_fullscreen.isChecked()
    qtbot.keyClick(window, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: not window.isFullScreen())


def test_zoom_scales_app_font_and_plot_axes(qtbot, window):
    plot = pg.PlotWidget(window.surface_view)
    plot.setLabel("bottom", "step")
    window.surface_view.layout().addWidget(plot)
    get_theme().style_plot(plot)
    axis = plot.getPlotItem().getAxis("bottom")
    app_pt = QApplication.font().pointSizeF()
    tick_pt = axis.style["tickFont"].pointSizeF()
    pen_w = axis.pen().widthF()
    qtbot.keyClick(window, Qt.Key.Key_Equal, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClick(window, Qt.Key.Key_Equal, Qt.KeyboardModifier.ControlModifier)
    assert get_theme().scale == pytest.approx(1.25)
    assert QApplication.font().pointSizeF() == pytest.approx(app_pt * 1.25)
    assert window.status_label.font().pointSizeF() == pytest.approx(app_pt * 1.25)
    assert axis.style["tickFont"].pointSizeF() == pytest.approx(tick_pt * 1.25)
    assert axis.pen().widthF() == pytest.approx(pen_w * 1.25)
    assert "font-size" in axis.labelStyle and "125" in window.zoom_label.text()
    qtbot.keyClick(window, Qt.Key.Key_Minus, Qt.KeyboardModifier.ControlModifier)
    assert get_theme().scale == pytest.approx(1.1)
    qtbot.keyClick(window, Qt.Key.Key_0, Qt.KeyboardModifier.ControlModifier)
    assert get_theme().scale == 1.0
    assert QApplication.font().pointSizeF() == pytest.approx(app_pt)


def test_theme_switch_changes_plot_background_and_palette(qtbot, window):
    plot = pg.PlotWidget(window.training_view)
    window.training_view.layout().addWidget(plot)
    window.window_actions.theme_actions["dark"].trigger()
    assert get_theme().name == "dark"
    assert plot.backgroundBrush().color().lightness() < 60
    assert QApplication.palette().window().color().lightness() < 80
    assert window.window_actions.theme_actions["dark"].isChecked()
    window.window_actions.theme_actions["light"].trigger()
    assert plot.backgroundBrush().color().lightness() > 200


def test_control_panel_action_toggles_the_current_views_panel(qtbot, window):
    panel = window.surface_view.control_panel()
    assert window.window_actions.act_panel.isChecked()
    window.window_actions.act_panel.trigger()
    assert not panel.isExpanded() and not window.window_actions.act_panel.isChecked()
    window.tabs.setCurrentIndex(1)
    # the training view's panel is open (once the view is built, a few turns later)
    qtbot.waitUntil(window.window_actions.act_panel.isChecked)
    window.tabs.setCurrentIndex(0)
    window.window_actions.act_panel.trigger()
    assert panel.isExpanded()


def test_help_dialogs_do_not_block(qtbot, window):
    box = window.show_shortcuts()
    assert isinstance(box, QMessageBox) and "Space" in box.text()
    acts = window.window_actions
    for act in (acts.act_fullscreen, acts.act_shortcuts, window.code_panel.toggleViewAction()):
        assert act.shortcut().toString(QKeySequence.SequenceFormat.NativeText) in box.text()
    box.close()
    about = window.show_about()
    assert "gdsim" in about.text()
    about.close()


def test_the_app_plugs_the_surface_tools_in_after_its_first_frame(qtbot, tmp_path):
    """As ``gdsim`` starts (tools_after_paint): the first frame comes without the Surfaces
    tools and the preset menu; they follow, built from what the window holds by then (a
    session applied before it showed, the plot page and splitter saved last time)."""
    from PySide6.QtWidgets import QCheckBox, QComboBox, QDoubleSpinBox

    from core.files.session import load_preset

    ini = str(tmp_path / "s.ini")
    first = shown(qtbot, MainWindow(settings_file=ini))
    first.surface_view.pages.tabs.setCurrentIndex(1)  # the tools' "Learning rate" page
    sizes = first.surface_view.splitter.sizes()
    first.surface_view.splitter.setSizes([sizes[0] - 40, sizes[1] + 40])  # a dragged splitter
    first.close()
    preset = load_preset("schedules-and-noise")  # noise 3.0; runner 3: StepLR
    again = MainWindow(settings_file=ini)  # the same settings, the tools there at once
    qtbot.addWidget(again)
    again.apply_session(preset)
    again.show()
    qtbot.waitExposed(again)
    sizes = again.surface_view.splitter.sizes()
    again.close()

    win = MainWindow(settings_file=ini, tools_after_paint=True)
    qtbot.addWidget(win)
    win.apply_session(preset)
    assert win._tools == {} and not win.sessions.preset_actions
    assert win.findChild(QCheckBox, "noiseCheck") is None
    win.show()
    qtbot.waitExposed(win)
    qtbot.waitUntil(lambda: win._pending is None)
    assert set(win._tools["surfaces"]) == {"surface_anatomy", "surface_schedule", "surface_basins"}
    assert "schedules-and-noise" in win.sessions.preset_actions
    assert win.surface_view.pages.tabs.currentIndex() == 1
    assert win.surface_view.splitter.sizes() == sizes
    assert win.findChild(QCheckBox, "noiseCheck").isChecked()
    assert win.findChild(QDoubleSpinBox, "noiseSpin").value() == 3.0
    view = win.surface_view
    view.model.select(list(view.model.entries)[2])
    assert win.findChild(QComboBox, "surfaceSchedulerCombo").currentText() == "StepLR"


def test_a_run_key_before_the_tools_are_in_finds_them(qtbot):
    """N (narrate) is a tool's: pressed before the tools are plugged in, it plugs them in
    first instead of saying the view has no such action."""
    win = MainWindow(restore=False, tools_after_paint=True)
    qtbot.addWidget(win)
    assert win._tools == {}
    assert win.dispatch("narrate")
    assert "surface_anatomy" in win._tools["surfaces"]


def test_settings_persist_across_two_windows(qtbot):
    first = MainWindow()
    qtbot.addWidget(first)
    first.show()
    first.resize(700, 500)
    first.tabs.setCurrentIndex(1)
    first.set_theme("dark")
    get_theme().set_scale(1.5)
    first.training_view.control_panel().setExpanded(False)
    first.close()
    get_theme().reset()  # make sure the second window really reads it back

    second = MainWindow()
    qtbot.addWidget(second)
    second.show()
    assert second.tabs.currentIndex() == 1
    assert get_theme().name == "dark" and get_theme().scale == 1.5
    assert second.window_actions.theme_actions["dark"].isChecked()
    assert not second.training_view.control_panel().isExpanded()
    assert second.surface_view.control_panel().isExpanded()
    assert (second.width(), second.height()) == (700, 500)
    second.close()


def test_corrupt_settings_file_is_survived(qtbot, caplog):
    path = open_settings().fileName()
    import os

    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write(
            "[appearance]\nzoom=banana\ntheme=purple\n[window]\ngeometry=12\ntab=7\n"
            "[views]\nsurfaces\\panelExpanded=perhaps\n"
        )
    with caplog.at_level(logging.WARNING, logger="gdsim"):
        win = MainWindow()
        qtbot.addWidget(win)
    assert get_theme().scale == 1.0 and get_theme().name == "light"
    assert win.tabs.currentIndex() == 0
    assert win.surface_view.control_panel().isExpanded()
    text = caplog.text
    for key in ("appearance/zoom", "appearance/theme", "window/geometry", "window/tab",
                "panelExpanded"):  # fmt: skip
        assert key in text
    win.close()
    # the file is usable again afterwards
    assert QSettings(path, QSettings.Format.IniFormat).value("appearance/zoom") in ("1.0", 1.0)


def test_garbage_bytes_settings_file(qtbot):
    path = open_settings().fileName()
    import os

    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(bytes(range(256)) * 8 + b"\x00\xff[General]\nzoom=\xff\xfe\n")
    get_theme().set_scale(1.5)  # left by an earlier window: the garbage must not keep it
    win = MainWindow()
    qtbot.addWidget(win)
    win.show()
    assert get_theme().scale == 1.0 and get_theme().name == "light"  # the defaults
    assert win.tabs.currentIndex() == 0 and win.tabs.currentWidget().isVisible()
    win.close()
    # closing saved a usable file over the garbage
    assert QSettings(path, QSettings.Format.IniFormat).value("appearance/zoom") in ("1.0", 1.0)


def test_view_shutdown_errors_are_logged_not_raised(qtbot, caplog):
    win = MainWindow()
    qtbot.addWidget(win)

    def broken() -> None:
        raise RuntimeError("worker would not stop")

    win.surface_view.shutdown = broken
    with caplog.at_level(logging.ERROR, logger="gdsim.window"):
        win.close()
    assert "failed to shut down" in caplog.text


def test_garbage_cycles_are_collected_on_the_gui_thread_only(window, qtbot):
    """A cycle freed while a worker allocates must not be collected on that worker (Qt objects
    in it would be deleted off the GUI thread): the window collects from a GUI timer."""
    import gc
    import threading

    assert not gc.isenabled()
    where: list[bool] = []

    class Probe:
        def __del__(self) -> None:
            where.append(threading.current_thread() is threading.main_thread())

    probe = Probe()
    probe.me = probe  # a reference cycle: only the cyclic collector frees it
    del probe
    kept: list = []  # many live allocations on a worker: enough to trigger a collection there
    worker = threading.Thread(target=lambda: kept.extend([] for _ in range(20_000)))
    worker.start()
    worker.join()
    assert where == []  # nothing collected on the worker
    qtbot.waitUntil(lambda: bool(where), timeout=5000)
    assert where == [True]
