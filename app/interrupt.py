"""Ctrl+C and SIGTERM close the window the way its close button does: settings saved, workers
stopped, then the process ends.

Why this is needed: Python runs a signal handler only when the interpreter gets control, and
inside Qt's event loop it gets none until some Qt event calls Python code. So Ctrl+C in the
terminal a lecturer started gdsim from did nothing at all, and SIGTERM (logging out, ``kill``)
ended the process without writing the settings. Here the C-level handler writes to a socket
(``signal.set_wakeup_fd``), a ``QSocketNotifier`` wakes the event loop, and the Python handler
then runs on the GUI thread. A second Ctrl+C (or SIGTERM) ends the process at once, as usual,
if closing is stuck.
"""

from __future__ import annotations

import logging
import signal
import socket
from typing import Any

from PySide6.QtCore import QObject, QSocketNotifier, QTimer, Slot
from PySide6.QtWidgets import QWidget

log = logging.getLogger("gdsim.window")

SIGNALS = ("SIGINT", "SIGTERM")


class CloseOnSignal(QObject):
    """While it lives (a child of ``window``), SIGINT/SIGTERM close ``window``. Install from the
    main thread (Python's rule for signal handlers); :meth:`uninstall` puts the old ones back."""

    def __init__(self, window: QWidget) -> None:
        super().__init__(window)
        self.received: list[int] = []
        self._reader, self._writer = socket.socketpair()
        self._reader.setblocking(False)
        self._writer.setblocking(False)
        self._old_fd = signal.set_wakeup_fd(self._writer.fileno())
        self._notifier = QSocketNotifier(self._reader.fileno(), QSocketNotifier.Type.Read, self)
        self._notifier.activated.connect(self._drain)
        self._old: dict[int, Any] = {}
        for name in SIGNALS:
            number = getattr(signal, name, None)
            if number is not None:
                self._old[number] = signal.signal(number, self._on_signal)

    @Slot()
    def _drain(self) -> None:
        """Empty the wake-up socket; the Python handler runs as this slot returns."""
        try:
            while self._reader.recv(64):
                pass
        except OSError:  # nothing left to read (BlockingIOError), or already closed
            pass

    def _on_signal(self, number: int, _frame: object) -> None:
        self.received.append(number)
        log.info("%s received: closing the window", signal.Signals(number).name)
        for other in self._old:  # a second one ends the process at once, the OS's default
            signal.signal(other, signal.SIG_DFL)
        # the window through Qt's parent link: a Python reference to it would make a cycle
        # that only the collector frees, deleting the window at a moment of its choosing
        QTimer.singleShot(0, self.parent().close)

    def uninstall(self) -> None:
        """Give back the handlers and the wake-up fd that were there before."""
        for number, old in self._old.items():
            signal.signal(number, old)
        self._old = {}
        signal.set_wakeup_fd(self._old_fd)
        self._notifier.setEnabled(False)
        self._reader.close()
        self._writer.close()
