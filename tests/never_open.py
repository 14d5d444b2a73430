"""Prove that code never opens a file, instead of hanging on it.

Opening a FIFO for reading blocks until a writer comes, so "the app never opens the fifo" cannot
be tested by waiting: a test would hang, or (with a timer writing into the fifo) pass after a
freeze. ``forbid_opening`` makes every way Python opens a path -- ``open``/``io.open`` (also
behind ``pathlib``) and ``os.open`` -- fail at once for the given paths, before the OS is asked.
"""

from __future__ import annotations

import builtins
import io
import os


class OpenedForbidden(AssertionError):
    """Raised where the code under test tried to open a forbidden path."""


def forbid_opening(monkeypatch, *paths: str | os.PathLike) -> list[str]:
    """Patch the openers for the rest of the test; returns the list of attempts (also raised)."""
    banned = {os.path.realpath(os.fspath(p)) for p in paths}
    attempts: list[str] = []

    def guard(opener):
        def opened(file, *args, **kwargs):
            if isinstance(file, (str, bytes, os.PathLike)):
                name = os.fsdecode(os.fspath(file))
                if os.path.realpath(name) in banned:
                    attempts.append(name)
                    raise OpenedForbidden(f"{name} was opened")
            return opener(file, *args, **kwargs)

        return opened

    monkeypatch.setattr(builtins, "open", guard(builtins.open))
    monkeypatch.setattr(io, "open", guard(io.open))
    monkeypatch.setattr(os, "open", guard(os.open))
    return attempts
