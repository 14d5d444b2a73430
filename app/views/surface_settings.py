"""The Surfaces race in the settings: one session document (``core.files.session``, without
its steps) under ``session``, read back through the same validator a session file uses.

Settings written before that kept the race field by field (``surface``, ``startX``, ``runners``
…); :func:`read` still reads those once, leniently (a bad value costs only that value, with a
warning), and the next save replaces them with the session.
"""

from __future__ import annotations

import logging
import math

from PySide6.QtCore import QSettings

from app.settings import read_bool, read_float, read_int, read_str
from core.engine.optimizers import OptimizerSpec, parse_spec
from core.engine.race import (
    DEFAULT_HORIZON,
    MAX_HORIZON,
    MAX_NOISE,
    MAX_SEED,
    as_scheduler,
    check_point,
    check_schedule,
)
from core.engine.surfaces import get_surface
from core.errors import GdsimError
from core.files.session import (
    MAX_RUNNERS,
    SPEED_MAX,
    SPEED_MIN,
    RunnerState,
    SurfacesState,
    dumps_session,
    loads_session,
    spec_text,
)
from core.state.surfaces import SurfacesModel

log = logging.getLogger("gdsim.surfaces")

SESSION_KEY = "session"
LEGACY_KEYS = ("surface", "startX", "startY", "speed", "noise", "seed", "horizon", "runners")


def save(model: SurfacesModel, s: QSettings) -> None:
    """The race as a session without steps (schedules, noise and each runner's own start
    included, so nothing set up is lost)."""
    s.setValue(SESSION_KEY, dumps_session(model.to_session(steps=False)))
    for key in LEGACY_KEYS:
        s.remove(key)


def read(s: QSettings, current: SurfacesState) -> SurfacesState:
    """The saved race, or ``current`` where nothing (readable) was saved."""
    text = read_str(s, SESSION_KEY, "")
    if text:
        try:
            saved = loads_session(text).surfaces
        except GdsimError as exc:
            log.warning("ignoring the saved race: %s", exc)
        else:
            if saved is not None:
                return saved
    return read_legacy(s, current)


def read_legacy(s: QSettings, current: SurfacesState) -> SurfacesState:
    """The race as settings before the session key kept it; a value that cannot be read is
    skipped with a warning and the rest is still restored."""
    surface = current.surface
    start = _read_point(s, "start", "ignoring saved start point: %s")
    key = read_str(s, "surface", surface)
    try:
        surface = get_surface(key).name
    except GdsimError as exc:
        log.warning("ignoring saved surface %r: %s", key, exc)
        start = None  # it was a point on that surface
    horizon = read_int(s, "horizon", DEFAULT_HORIZON, 1, MAX_HORIZON)
    runners = _read_runners(s, horizon) or current.runners
    return SurfacesState(
        surface=surface,
        start=current.start if start is None and surface == current.surface else start,
        runners=tuple(runners),
        speed=read_float(s, "speed", current.speed, SPEED_MIN, SPEED_MAX),
        noise=read_float(s, "noise", 0.0, 0.0, MAX_NOISE),
        seed=read_int(s, "seed", 0, 0, MAX_SEED),
        horizon=horizon,
    )


def _read_point(s: QSettings, prefix: str, warning: str) -> tuple[float, float] | None:
    """``prefix``X/``prefix``Y as a start point, or None (missing, or refused with a warning)."""
    x = read_float(s, f"{prefix}X", math.nan)
    y = read_float(s, f"{prefix}Y", math.nan)
    if not (math.isfinite(x) and math.isfinite(y)):
        return None
    try:
        return check_point((x, y))
    except GdsimError as exc:
        log.warning(warning, exc)
        return None


def _read_runners(s: QSettings, horizon: int) -> list[RunnerState]:
    out: list[RunnerState] = []
    try:
        n = s.beginReadArray("runners")
    except Exception as exc:  # a corrupt array header: PySide cannot read it
        log.warning("ignoring saved optimizers: %s", exc)
        return out
    if n > MAX_RUNNERS:  # a corrupt count: never loop 2**31 times before the window shows
        log.warning("ignoring saved optimizers beyond the first %d of %d", MAX_RUNNERS, n)
        n = MAX_RUNNERS
    try:
        for i in range(n):
            s.setArrayIndex(i)
            text = read_str(s, "spec", "")
            try:
                spec = parse_spec(text)
            except GdsimError as exc:
                log.warning("ignoring saved optimizer %r: %s", text[:80], exc)
                continue
            out.append(
                RunnerState(
                    spec=spec_text(spec),
                    label=read_str(s, "label", "").strip() or None,
                    visible=read_bool(s, "visible", True),
                    start=_read_point(s, "start", "ignoring a runner's saved start: %s"),
                    scheduler=_read_schedule(s, spec, horizon),
                )
            )
    finally:
        s.endArray()
    return out


def _read_schedule(s: QSettings, spec: OptimizerSpec, horizon: int) -> str | None:
    """The runner's saved lr schedule (canonical text) if it is valid for ``spec``."""
    text = read_str(s, "scheduler", "")
    try:
        sched = as_scheduler(text)  # None for "" and "none"
        if sched is None:
            return None
        check_schedule(spec, sched, horizon)
    except GdsimError as exc:
        log.warning("ignoring the saved schedule %r of %s: %s", text[:80], spec, exc)
        return None
    return str(sched)
