"""Reading and writing the user's files: never half a file, never a blocked read.

Why: a crash, a full disk or a killed process in the middle of a write must not destroy the file
that was there (a saved session, a metrics file a notebook reads). So data goes to a temporary
file in the same folder and is moved over the target with ``os.replace`` (atomic on POSIX and
Windows). A symlink's target is replaced, not the link; a non-regular target (``/dev/stdout``, a
fifo) is written straight through by :func:`write_text_atomic`, since replacing it would be wrong
(and, as root, destructive). A read-only file is refused, as the shell refuses ``>`` over it.
Temporary files a killed process left (ours: ``.gdsim-XXXXXXXX.tmp``) are removed the next time
that folder is written, once they are :data:`STALE_SECONDS` old.
"""

from __future__ import annotations

import os
import re
import stat
import tempfile
import time
from typing import IO, Any

from core.errors import GdsimError

TMP_PREFIX, TMP_SUFFIX = ".gdsim-", ".tmp"
#: mkstemp's names with our prefix (8 random characters): nobody else's files match.
_OUR_TMP = re.compile(r"^\.gdsim-[a-z0-9_]{8}\.tmp$")
#: A temporary file untouched this long belongs to a killed writer (a live one writes often).
STALE_SECONDS = 30 * 60


def check_regular(path: str | os.PathLike, what: str, missing_ok: bool = False) -> Any:
    """``os.stat`` of ``path``, or GdsimError if it is anything but a regular file.

    Found without opening it: opening a fifo blocks until a writer comes, a device may never
    end. A missing file is an error unless ``missing_ok`` (then None).
    """
    name = os.fspath(path)
    try:
        info = os.stat(name)
    except FileNotFoundError as exc:
        if missing_ok:
            return None
        raise GdsimError(f"cannot open {what} {name}: {exc.strerror}") from None
    except OSError as exc:
        raise GdsimError(f"cannot open {what} {name}: {exc.strerror or exc}") from None
    except ValueError as exc:  # e.g. a NUL character in the path
        raise GdsimError(f"cannot open {what} {name!r}: {exc}") from None
    if stat.S_ISDIR(info.st_mode):
        raise GdsimError(f"cannot open {what} {name}: it is a folder")
    if not stat.S_ISREG(info.st_mode):
        raise GdsimError(f"cannot open {what} {name}: not a regular file")
    return info


def _refuse_read_only(target: str, path: str, what: str) -> None:
    """A regular file nobody may write (0444), or we may not, is kept, as the shell keeps it."""
    try:
        info = os.stat(target)
    except OSError:
        return  # missing (or unreadable metadata): the write itself will say what is wrong
    if stat.S_ISREG(info.st_mode) and (not info.st_mode & 0o222 or not os.access(target, os.W_OK)):
        raise GdsimError(f"cannot write {what} {path}: the file is read-only")


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
    _refuse_read_only(target, path, what)


def remove_stale_temps(folder: str, now: float | None = None) -> None:
    """Delete our temporary files in ``folder`` that a killed writer left (see the module doc)."""
    cutoff = (time.time() if now is None else now) - STALE_SECONDS
    uid = os.getuid() if hasattr(os, "getuid") else None
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return
    for entry in entries:
        if not _OUR_TMP.match(entry.name):
            continue
        try:
            info = entry.stat(follow_symlinks=False)
            if (
                stat.S_ISREG(info.st_mode)
                and info.st_mtime < cutoff
                and (uid is None or info.st_uid == uid)
            ):
                os.unlink(entry.path)
        except OSError:
            pass


class AtomicFile:
    """A temporary file next to ``path`` that replaces ``path`` only when complete.

    ``with AtomicFile(path, what) as out: out.file.write(data)`` moves the file into place when
    the block ends normally; an exception (an ``OSError`` becomes a one-line GdsimError naming
    the file) or :meth:`abort` (a cancel) removes it and leaves ``path`` as it was. Without
    ``with``: :meth:`commit` or :meth:`abort`, and :meth:`error` to word an ``OSError``.
    """

    def __init__(self, path: str | os.PathLike, what: str = "file", text: bool = False) -> None:
        self.path = os.fspath(path)
        self.what = what
        check_writable(self.path, what)
        self.target = os.path.realpath(self.path)
        if os.path.exists(self.target) and not os.path.isfile(self.target):
            raise GdsimError(f"cannot write {what} {self.path}: not a regular file")
        folder = os.path.dirname(self.target)
        remove_stale_temps(folder)
        self.tmp: str | None = None
        self.committed = False
        try:
            fd, self.tmp = tempfile.mkstemp(prefix=TMP_PREFIX, suffix=TMP_SUFFIX, dir=folder)
            self.file: IO[Any] = (
                os.fdopen(fd, "w", encoding="utf-8") if text else os.fdopen(fd, "wb")
            )
        except OSError as exc:
            self.abort()
            raise self.error(exc) from None

    def error(self, exc: OSError) -> GdsimError:
        """``exc`` as the one line the user sees, naming the file."""
        return GdsimError(f"cannot write {self.what} {self.path}: {exc.strerror or exc}")

    def commit(self) -> bool:
        """Flush to disk and move over ``path``; False if it was aborted before."""
        if self.tmp is None:
            return False
        try:
            self.file.flush()
            os.fsync(self.file.fileno())
            self.file.close()
            _refuse_read_only(self.target, self.path, self.what)  # made read-only meanwhile?
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(self.tmp, 0o666 & ~umask)  # mkstemp makes 0600; give the file a normal mode
            os.replace(self.tmp, self.target)
            self.tmp = None
            self.committed = True
        except OSError as exc:
            self.abort()
            raise self.error(exc) from None
        except BaseException:
            self.abort()
            raise
        return True

    def abort(self) -> None:
        """Drop the temporary file (``path`` is untouched)."""
        file = getattr(self, "file", None)
        if file is not None:
            try:
                file.close()
            except OSError:
                pass
        if self.tmp is not None:
            _unlink_quietly(self.tmp)
            self.tmp = None

    def __enter__(self) -> AtomicFile:
        return self

    def __exit__(self, kind: Any, exc: BaseException | None, tb: Any) -> bool:
        if exc is None:
            self.commit()
            return False
        self.abort()
        if isinstance(exc, OSError):
            raise self.error(exc) from None
        return False


def write_text_atomic(path: str | os.PathLike, text: str, what: str = "file") -> None:
    """Write ``text`` to ``path`` atomically; any failure is a one-line GdsimError naming ``what``."""
    path = os.fspath(path)
    check_writable(path, what)
    target = os.path.realpath(path)
    if os.path.exists(target) and not os.path.isfile(target):
        try:
            with open(target, "w", encoding="utf-8") as fh:
                fh.write(text)
        except OSError as exc:
            raise GdsimError(f"cannot write {what} {path}: {exc.strerror or exc}") from None
        return
    with AtomicFile(path, what, text=True) as out:
        out.file.write(text)


def _unlink_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass
