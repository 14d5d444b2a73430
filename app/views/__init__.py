"""The two views of the main window (``SurfaceView``, ``TrainingView``) and the interface the
window talks to them through, so views can grow without touching the window."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, runtime_checkable

from PySide6.QtCore import QSettings


@runtime_checkable
class ViewInterface(Protocol):
    """What ``MainWindow`` calls on a view, besides a ``statusChanged = Signal(str)`` (throttled
    to a few a second) and ``control_panel() -> CollapsiblePanel`` (View ▸ "Show control panel").

    Teaching tools: ``MainWindow.VIEW_TOOLS`` lists each view's ``install(view) -> tool``; a
    Surfaces tool takes the view's ``SurfacesModel`` and subscribes to its events.

    Theming: pens from ``get_theme().pen(color, width)`` kept current by ``theme.bind_pen`` or a
    bound-method slot on ``theme.changed`` (never a lambda: it would outlive the view)."""

    def status_text(self) -> str:
        """The status-bar line, shown when the tab becomes current."""
        ...

    def shortcut_targets(self) -> dict[str, Callable[[], None] | None]:
        """``run`` (Space), ``step`` (S, →), ``reset`` (R), ``narrate`` (N, from a tool's
        ``add_shortcut_target``); None or missing: not offered. Asked at each key press; the
        window dispatches only while this tab is current and the focused control does not use
        the key (``app.input_policy``)."""
        ...

    def save_settings(self, settings: QSettings) -> None:
        """Plain keys: the group ``views/<key>`` is already begun."""
        ...

    def restore_settings(self, settings: QSettings) -> None:
        """Once after construction, maybe never; read with ``app.settings.read_*`` (never raise)."""
        ...

    def shutdown(self) -> None:
        """Once at close: stop timers and threads (never ``terminate()``), return within ~1 s."""
        ...
