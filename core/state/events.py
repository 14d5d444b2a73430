"""A Qt-free signal: callbacks called in the order they connected, with the event's arguments.

Hand-written rather than psygnal: this is all the models need, and an exception in a callback
reaches the caller (and gdsim's error report) as itself, not wrapped in a multi-line
``EmitLoopError``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


class Event:
    """``connect(fn)``, ``disconnect(fn)``, ``emit(*args)``."""

    __slots__ = ("_callbacks",)

    def __init__(self) -> None:
        self._callbacks: list[Callable[..., Any]] = []

    def connect(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        self._callbacks.append(fn)
        return fn

    def disconnect(self, fn: Callable[..., Any]) -> None:
        if fn in self._callbacks:
            self._callbacks.remove(fn)

    def emit(self, *args: Any) -> None:
        for fn in tuple(self._callbacks):
            fn(*args)


class Events:
    """One :class:`Event` per name, as attributes (``model.events.stepped.connect(...)``)."""

    def __init__(self, *names: str) -> None:
        for name in names:
            setattr(self, name, Event())
