"""The Training setup in the settings: one session document (``core.files.session``) under
``session``, read back through the same validator a session file uses (``loads_saved``: a value
it refuses now costs only that value, with a one-line warning naming it).

Settings written before that kept the setup field by field (``dataset``, ``hidden``,
``optimizers`` …): a returning user expects their setup back, so :func:`read` still reads those
once, leniently (a bad value costs only that value, with a warning), and the next save replaces
them with the session. Reading needs no Training view: the window keeps what it read until the
view is first shown (``core.state.training.PendingTraining``).
"""

from __future__ import annotations

import logging
from dataclasses import replace

from PySide6.QtCore import QSettings

from app.settings import read_bool, read_float, read_int, read_str, read_str_list
from core.engine.datasets import MAX_SAMPLES, MIN_SAMPLES, dataset_names, get_dataset
from core.engine.devices import available_devices
from core.engine.optimizers import parse_spec
from core.engine.schedulers import parse_scheduler
from core.engine.training import (
    ACTIVATIONS,
    MAX_BATCH_SIZE,
    MAX_EPOCHS,
    MAX_PATIENCE,
    MAX_VAL_FRACTION,
    TrainConfig,
    parse_hidden,
)
from core.errors import GdsimError, error_line
from core.files.session import Session, dumps_session, loads_saved
from core.state.training import DEFAULT_CONFIG

log = logging.getLogger("gdsim.training")

SESSION_KEY = "session"
LEGACY_KEYS = (
    "dataset", "samples", "noise", "valFraction", "seed", "hidden", "activation", "optimizers",
    "scheduler", "batch", "epochs", "patience", "stopEarly", "device",
)  # fmt: skip
LEGACY_OPTION = "option_"  # + a data set option's name ("option_arms")


def save(config: TrainConfig, s: QSettings) -> None:
    """``config`` as a session; the old per-field keys go, so the settings hold one setup."""
    s.setValue(SESSION_KEY, dumps_session(Session(view="training", training=config)))
    for key in (*LEGACY_KEYS, *(k for k in s.childKeys() if k.startswith(LEGACY_OPTION))):
        s.remove(key)


def read(s: QSettings) -> TrainConfig | None:
    """The saved setup, or None if nothing (readable) was saved."""
    text = read_str(s, SESSION_KEY, "")
    if text:
        try:
            session = loads_saved(text)
        except GdsimError as exc:
            log.warning("ignoring setting %s/%s: %s", s.group(), SESSION_KEY, exc)
        else:
            for note in session.warnings:
                log.warning("ignoring setting %s/%s: %s", s.group(), SESSION_KEY, note)
            if session.training is not None:
                return session.training
    if any(k in LEGACY_KEYS or k.startswith(LEGACY_OPTION) for k in s.childKeys()):
        return read_legacy(s)
    return None


def read_legacy(s: QSettings) -> TrainConfig:
    """The setup as settings before the session key kept it; a value that cannot be read is
    skipped with a warning and the rest is still restored."""
    # the panel's limits the old keys were read with (imported here: once per user, ever)
    from app.views.training_panel_data import MAX_SEED, VAL_SHARE_MIN_PERCENT
    from app.views.training_panel_race import MAX_LANES

    d = DEFAULT_CONFIG
    name = read_str(s, "dataset", d.dataset, dataset_names())
    info = get_dataset(name)
    hidden = read_str(s, "hidden", ",".join(map(str, d.hidden)))
    try:
        hidden_layers = parse_hidden(hidden)
    except GdsimError as exc:
        log.warning("ignoring setting hidden=%r: %s", hidden[:80], exc)
        hidden_layers = d.hidden
    share = read_float(s, "valFraction", d.val_fraction, VAL_SHARE_MIN_PERCENT / 100,
                       MAX_VAL_FRACTION)  # fmt: skip
    patience = read_int(s, "patience", d.patience or 0, 0, MAX_PATIENCE)
    try:
        config = replace(
            d,
            dataset=name,
            samples=read_int(s, "samples", d.samples, MIN_SAMPLES, MAX_SAMPLES),
            noise=read_float(s, "noise", info.default_noise, 0.0, 5.0),
            val_fraction=share,
            dataset_options={
                o.name: read_int(s, f"{LEGACY_OPTION}{o.name}", o.default, o.low, o.high)
                for o in info.options
            },
            seed=read_int(s, "seed", d.seed, 0, MAX_SEED),
            hidden=hidden_layers,
            activation=read_str(s, "activation", d.activation, list(ACTIVATIONS)),
            optimizers=_read_optimizers(s, d.optimizers, MAX_LANES),
            scheduler=_read_scheduler(s),
            epochs=read_int(s, "epochs", d.epochs, 1, MAX_EPOCHS),
            batch_size=read_int(s, "batch", d.batch_size, 1, MAX_BATCH_SIZE),
            patience=patience if patience > 0 else None,
            stop_early=read_bool(s, "stopEarly", d.stop_early),
            device=_read_device(s, d.device),
        )
        config.make_data()  # samples, noise, seed and options together
    except GdsimError as exc:
        log.warning("ignoring the saved training settings: %s", error_line(exc))
        return d
    return config


def _read_optimizers(s: QSettings, default: tuple[str, ...], most: int) -> tuple[str, ...]:
    specs = []
    for text in read_str_list(s, "optimizers", list(default))[:most]:
        try:
            specs.append(str(parse_spec(text)))
        except GdsimError as exc:
            log.warning("ignoring saved optimizer %r: %s", text[:80], exc)
    return tuple(specs) or default


def _read_scheduler(s: QSettings) -> str | None:
    text = read_str(s, "scheduler", "none")
    if text.strip().lower() in ("", "none"):
        return None
    try:  # any SPEC, "StepLR(step_size=5, gamma=0.5)" too
        parse_scheduler(text)
    except GdsimError as exc:
        log.warning("ignoring setting scheduler=%r: %s", text[:200], exc)
        return None
    return text


def _read_device(s: QSettings, default: str) -> str:
    device = read_str(s, "device", default).strip().lower()
    if device in {"auto", *(d.name for d in available_devices())}:
        return device
    log.warning("ignoring setting device=%r: not a device name", device[:40])
    return default
