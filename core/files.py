"""Writing the user's files without ever leaving half of one.

Why: a crash, a full disk or a killed process in the middle of a write must not destroy the file
that was there (a saved session, a metrics file a notebook reads). So text goes to a temporary file
in the same folder and is moved over the target with ``os.replace`` (atomic on POSIX and Windows).
A symlink's target is replaced, not the link; a non-regular target (``/dev/stdout``, a fifo) is
written straight through, since replacing it would be wrong (and, as root, destructive).
"""

from __future__ import annotations

import os
import tempfile

from core.errors import GdsimError


def check_writable(path: str | os.PathLike, what: str = "file") -> None:
    """Refuse early (before minutes of work) a path that cannot be written: one-line GdsimError."""
    path = os.fspath(path)
    if not path:
        raise GdsimError(f"{what} needs a file name")
    if os.path.isdir(path):
        raise GdsimError(f"{what} {path} is a directory")
    target = os.path.realpath(path)
    if os.path.exists(target) and not os.path.isfile(target):
        return  # /dev/stdout and friends: written straight through
    folder = os.path.dirname(target)
    if not os.path.isdir(folder):
        raise GdsimError(f"{what} {path}: folder {folder} does not exist")
    if not os.access(folder, os.W_OK):
        raise GdsimError(f"{what} {path}: cannot write to folder {folder}")


def write_text_atomic(path: str | os.PathLike, text: str, what: str = "file") -> None:
    """Write ``text`` to ``path`` atomically; any failure is a one-line GdsimError naming ``what``."""
    path = os.fspath(path)
    check_writable(path, what)
    target = os.path.realpath(path)
    try:
        if os.path.exists(target) and not os.path.isfile(target):
            with open(target, "w", encoding="utf-8") as fh:
                fh.write(text)
            return
        fd, tmp = tempfile.mkstemp(prefix=".gdsim-", suffix=".tmp", dir=os.path.dirname(target))
    except OSError as exc:
        raise GdsimError(f"cannot write {what} {path}: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; give the file a normal mode
        os.replace(tmp, target)
    except OSError as exc:
        _unlink_quietly(tmp)
        raise GdsimError(f"cannot write {what} {path}: {exc.strerror or exc}") from None
    except BaseException:
        _unlink_quietly(tmp)
        raise


def _unlink_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass
