"""The two views of the main window, and the interface the window expects from each.

``MainWindow`` puts ``SurfaceView`` (objectName ``surfacesPage``) and ``TrainingView``
(``trainingPage``) into the ``viewTabs`` QTabWidget and talks to them only through this
interface, so views can grow without touching the window:

``status_text() -> str``
    The status-bar line for this view ("Adam, SGD racing · step 120 · 60 steps/s"). The window
    shows it when the tab becomes current.
``statusChanged = Signal(str)``
    Emit the new line when it changes (throttled by you, ≤ a few times a second).
``shortcut_targets() -> dict[str, Callable[[], None] | None]``
    Keys ``"run"`` (Space: start/pause toggle), ``"step"`` (S and →: one step) and ``"reset"``
    (R), ``"narrate"`` (N: one line of the training loop, offered by the Surfaces view's
    step-anatomy tool through ``add_shortcut_target``). None (or a missing key) = not offered.
    Called at every key press, so it may change.
    The window only dispatches while this view is the current tab and the focused control does
    not use the key itself (``app.input_policy``: a text field types it, a focused button or
    check box takes Space, a slider →). Enter/Esc in a number field hand the keyboard back to
    the view (it gets the focus), so a view needs no key handling of its own.
``control_panel() -> CollapsiblePanel``
    The panel that View ▸ "Show control panel" collapses/expands.
``save_settings(settings: QSettings)`` / ``restore_settings(settings: QSettings)``
    Called with the group ``views/<surfaces|training>`` already begun; use plain keys. Read
    with ``app.settings.read_float/read_int/read_bool/read_str...`` (type-checked, default on
    garbage, never raise). ``restore_settings`` runs once after construction; a view must also
    work if it is never called. The panel's expanded state is saved by the window.
``shutdown()``
    Called once when the window closes: stop timers and worker threads (set the stop event,
    ``quit()``, ``wait(≤ 900 ms)``, never ``terminate()``). Must return within ~1 s and must not
    raise (the window logs and goes on if it does).

Teaching tools: ``MainWindow.VIEW_TOOLS`` lists each view's ``install(view) -> tool`` functions
(plain imports); the window keeps the tools in ``window.tools[view_key][name]`` and calls their
``shutdown()``. A Surfaces tool takes the view's ``SurfacesModel`` (``core.state.surfaces``) and
the widgets it draws on, subscribes to the model's events, and places its panel with
``add_tool``/``add_plot_page``.

Theming: build pens with ``app.theme.get_theme().pen(color, width)`` and keep them current with
``theme.bind_pen(item, color, width)`` or a slot on ``theme.changed`` (a bound method of a
QObject, never a lambda: lambdas outlive the view). Axis fonts, backgrounds and legends of
every pyqtgraph view are styled by the theme itself.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, runtime_checkable

from PySide6.QtCore import QSettings

SHORTCUT_KEYS = ("run", "step", "reset", "narrate")


@runtime_checkable
class ViewInterface(Protocol):
    """What ``MainWindow`` calls on a view (see the module docstring)."""

    def status_text(self) -> str: ...

    def shortcut_targets(self) -> dict[str, Callable[[], None] | None]: ...

    def save_settings(self, settings: QSettings) -> None: ...

    def restore_settings(self, settings: QSettings) -> None: ...

    def shutdown(self) -> None: ...
