"""A Qt object's callbacks on a Qt-free model's events (``core.state.events``), for its lifetime.

The model cannot know when a widget dies, so a bound method left in its lists would be called
on a deleted widget, and it keeps the widget's wrapper (and the model, through it) in a Python
cycle that only the cyclic collector frees, at a moment of its choosing. Callbacks go when their
owner is destroyed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject

from core.state.events import Event


def subscribe(owner: QObject, fn: Callable[..., Any], *events: Event) -> None:
    """``fn`` on each of ``events`` until ``owner`` is destroyed."""
    for event in events:
        event.connect(fn)

    def unsubscribe(*_args: object) -> None:
        for event in events:
            event.disconnect(fn)

    owner.destroyed.connect(unsubscribe)
