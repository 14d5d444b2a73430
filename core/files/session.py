"""Sessions and lecture presets: what is on screen, as a small versioned JSON document.

A lecturer prepares a scenario at home and opens it in the lecture hall, students send each other
what they found, and the presets in ``resources/presets/`` are sessions too (they show the format).
Files come from other people, so loading never runs or imports code, and every value passes the
engine's own validators: a session loads if and only if the engine accepts it; anything else is
one ``GdsimError`` line naming its place (``surfaces.runners[2].spec: ...``).
"""

from __future__ import annotations

import json
import math
import os
import re
import stat
from dataclasses import dataclass, field, replace
from importlib import resources
from typing import Any

from core.engine.optimizers import OptimizerSpec, parse_spec
from core.engine.race import (
    DEFAULT_HISTORY,
    DEFAULT_HORIZON,
    Race,
    check_horizon,
    check_noise,
    check_point,
    check_schedule,
    check_seed,
)
from core.engine.schedulers import parse_scheduler
from core.engine.surfaces import get_surface
from core.engine.training import MAX_HIDDEN_LAYERS, TrainConfig
from core.errors import GdsimError, error_line
from core.files.atomic import check_regular, write_text_atomic

__all__ = [
    "FORMAT",
    "MAX_DEPTH",
    "MAX_FILE_BYTES",
    "MAX_RUNNERS",
    "MAX_STEPS",
    "SPEED_MAX",
    "SPEED_MIN",
    "VERSION",
    "PresetInfo",
    "RunnerState",
    "Session",
    "SurfacesState",
    "dumps_session",
    "list_presets",
    "load_preset",
    "preset_name",
    "load_session",
    "loads_saved",
    "loads_session",
    "save_session",
    "spec_text",
]

FORMAT = "gdsim-session"
VERSION = 1
#: Largest session file read; checked with stat before reading (a session is ~1-3 kB).
MAX_FILE_BYTES = 1_000_000
#: Deepest nesting of lists/objects accepted (a valid session is 4 levels deep).
MAX_DEPTH = 32
#: Most runners in the race, and most optimizer lanes in training.
MAX_RUNNERS = 16
#: Most race steps a session may ask to pre-run when it is loaded (bounds the work a file causes).
MAX_STEPS = 20_000
#: Speed range of the Surfaces view (steps per second; the same as its slider).
SPEED_MIN, SPEED_MAX, SPEED_DEFAULT = 1.0, 2000.0, 100.0
MAX_TITLE = 120
MAX_LABEL = 120
MAX_EXPLANATION = 2000
MAX_WARNINGS = 20
#: Longest integer literal read (digits); more is a hostile or broken file, not a setting.
MAX_INT_DIGITS = 30
VIEWS = ("surfaces", "training")

_DEVICE = re.compile(r"^(auto|cpu|mps|cuda(:\d{1,4})?)$")
_IMPORT_PATH = re.compile(r"^\s*[A-Za-z_][\w.]*\s*:")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")  # tab, \n, \r: see _LINE_BREAK
_LINE_BREAK = re.compile("[\n\r\x85\u2028\u2029]")  # what str.splitlines() breaks on, too


# --------------------------------------------------------------------------------------------
# The dataclasses
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunnerState:
    """One runner of the race: an optimizer SPEC (canonical text), its label, start and lr
    schedule (a ``core.engine.schedulers`` SPEC, canonical text, or None)."""

    spec: str
    label: str | None = None  # None: the automatic label
    visible: bool = True
    start: tuple[float, float] | None = None  # None: the race's shared start
    scheduler: str | None = None  # None: no schedule

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "spec": self.spec,
            "label": self.label,
            "visible": self.visible,
            "start": None if self.start is None else [float(v) for v in self.start],
        }
        if self.scheduler is not None:
            out["scheduler"] = self.scheduler
        return out


@dataclass(frozen=True)
class SurfacesState:
    """The Surfaces view: which surface, where the runners start, who races, how fast."""

    surface: str = "rosenbrock"  # registry name (canonical) or expression text
    start: tuple[float, float] | None = None  # None: the surface's default start
    runners: tuple[RunnerState, ...] = ()
    speed: float = SPEED_DEFAULT
    steps: int = 0  # race steps to pre-run when the session is loaded
    noise: float = 0.0  # gradient noise sigma (core.engine.race "Noise"); 0: none
    seed: int = 0  # the noise seed
    horizon: int = DEFAULT_HORIZON  # steps the schedules' run-derived defaults assume

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "surface": self.surface,
            "start": None if self.start is None else [float(v) for v in self.start],
            "runners": [r.to_json() for r in self.runners],
            "speed": float(self.speed),
            "steps": int(self.steps),
        }
        # optional keys are written only when used: such a file reads as it did before they existed
        if self.noise or self.seed:
            out["noise"] = {"sigma": float(self.noise), "seed": int(self.seed)}
        if self.horizon != DEFAULT_HORIZON:
            out["horizon"] = int(self.horizon)
        return out

    def build_race(self, history: int | None = DEFAULT_HISTORY, run: bool = True) -> Race:
        """The race this state describes: every runner added in order (label ``None`` gets the
        engine's default) with its schedule, the noise, then ``steps`` steps taken if ``run``.
        Invisible runners are added too; hiding them is the view's business."""
        race = Race(
            self.surface,
            start=self.start,
            history=history,
            horizon=self.horizon,
            noise=self.noise,
            seed=self.seed,
        )
        for r in self.runners:  # in order: runner i's noise is seeded by its place
            race.add(r.spec, start=r.start, label=r.label, scheduler=r.scheduler)
        if run and self.steps:
            race.step(self.steps)
        return race


@dataclass(frozen=True)
class Session:
    """Everything needed to reproduce what is on screen.

    ``warnings`` lists what loading ignored (unknown keys); it does not take part in equality.
    """

    title: str = ""
    explanation: str = ""
    view: str = "surfaces"
    surfaces: SurfacesState | None = None
    training: TrainConfig | None = None
    warnings: tuple[str, ...] = field(default=(), compare=False)

    def to_json(self) -> dict[str, Any]:
        """The JSON document (plain dicts, lists, str, float, int, bool, None)."""
        doc: dict[str, Any] = {
            "format": FORMAT,
            "version": VERSION,
            "title": self.title,
            "explanation": self.explanation,
            "view": self.view,
        }
        if self.surfaces is not None:
            doc["surfaces"] = self.surfaces.to_json()
        if self.training is not None:
            doc["training"] = _training_to_json(self.training)
        return doc

    @classmethod
    def from_json(cls, doc: Any) -> Session:
        """Validate a parsed document and build a Session; GdsimError (one line) if invalid."""
        reader = _Reader()
        try:
            return reader.session(doc)
        except GdsimError:
            raise
        except (TypeError, ValueError, OverflowError, RecursionError, MemoryError) as exc:
            # Not expected (every value is type-checked before an engine validator sees it),
            # but a file must never crash the caller: report it as the file's problem.
            first = error_line(exc, name_type=True)[:200]
            raise GdsimError(f"invalid session: {first}") from None


# TrainConfig's fields a session stores; cpu_threads is a machine setting, not part of a session
_TRAINING_FIELDS = (
    "dataset",
    "dataset_options",
    "samples",
    "noise",
    "val_fraction",
    "hidden",
    "activation",
    "optimizers",
    "scheduler",
    "epochs",
    "batch_size",
    "device",
    "seed",
    "patience",
    "stop_early",
)


def _training_to_json(config: TrainConfig) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in _TRAINING_FIELDS:
        value = getattr(config, name)
        if name == "dataset_options":
            value = {str(k): v for k, v in value.items()}
        elif name in ("hidden", "optimizers"):
            value = list(value)
        out[name] = value
    return out


def spec_text(spec: OptimizerSpec) -> str:
    """A runner's SPEC as a session stores it: canonical, but with ``lr`` always written.

    ``str(spec)`` leaves out values equal to torch's defaults, so SGD at lr 0.001 would read
    ``SGD()`` -- correct, but useless to a lecturer reading a preset. ``parse_spec`` of the result
    gives back an equal spec.
    """
    values = dict(spec.kwargs)
    hparams = spec.hparams()
    if "lr" in hparams and "lr" not in values:
        values = {"lr": hparams["lr"], **values}
    return f"{spec.name}({', '.join(f'{k}={_literal(v)}' for k, v in values.items())})"


def _literal(value: Any) -> str:
    if isinstance(value, tuple):
        return "(" + ", ".join(_literal(v) for v in value) + ")"
    return repr(value)


# --------------------------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------------------------


def _where(path: str) -> str:
    return path if path else "the session"


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _engine(path: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
    """Call an engine validator; its GdsimError gets the document path in front."""
    try:
        return fn(*args, **kwargs)
    except GdsimError as exc:
        raise GdsimError(f"{_where(path)}: {error_line(exc)}") from None


class _Reader:
    """Walks a parsed document, checking types and collecting warnings for unknown keys."""

    def __init__(self) -> None:
        self.warnings: list[str] = []
        self.ignored = 0

    # -- primitives

    def obj(self, value: Any, path: str, known: tuple[str, ...]) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise GdsimError(f"{_where(path)} must be an object, got {_type_name(value)}")
        # keys of a newer minor version: ignored and reported, so the file still opens
        for key in value:
            if key not in known:
                self.ignored += 1
                if len(self.warnings) < MAX_WARNINGS:
                    shown = key if len(key) <= 40 else key[:37] + "..."
                    place = f" in {path}" if path else ""
                    self.warnings.append(f"ignored unknown key {shown!r}{place}")
        return value

    @staticmethod
    def text(
        value: Any, path: str, max_len: int, multiline: bool = False, empty: bool = True
    ) -> str:
        if not isinstance(value, str):
            raise GdsimError(f"{path} must be text, got {_type_name(value)}")
        if len(value) > max_len:
            raise GdsimError(f"{path} is too long ({len(value)} characters; at most {max_len})")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise GdsimError(f"{path} contains an invalid character (a lone surrogate)") from None
        bad = _CONTROL.search(value) or (None if multiline else _LINE_BREAK.search(value))
        if bad:
            what = (
                "a line break"
                if _LINE_BREAK.match(bad.group())
                else f"control character {bad.group()!r}"
            )
            raise GdsimError(f"{path} contains {what}")
        if not empty and not value.strip():
            raise GdsimError(f"{path} is empty")
        return value

    @staticmethod
    def number(value: Any, path: str) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise GdsimError(f"{path} must be a number, got {_type_name(value)}")
        out = float(value)
        if not math.isfinite(out):
            raise GdsimError(f"{path} must be a finite number")
        return out

    @staticmethod
    def integer(value: Any, path: str) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise GdsimError(f"{path} must be a whole number, got {_type_name(value)}")
        return value

    @staticmethod
    def boolean(value: Any, path: str) -> bool:
        if not isinstance(value, bool):
            raise GdsimError(f"{path} must be true or false, got {_type_name(value)}")
        return value

    def point(self, value: Any, path: str) -> tuple[float, float] | None:
        if value is None:
            return None
        if not isinstance(value, list) or len(value) != 2:
            raise GdsimError(f"{path} must be [x, y] or null, got {_type_name(value)}")
        x = self.number(value[0], f"{path}[0]")
        y = self.number(value[1], f"{path}[1]")
        return _engine(path, check_point, (x, y), "start")

    def spec(self, value: Any, path: str) -> str:
        text = self.text(value, path, 2000, empty=False)
        if _IMPORT_PATH.match(text):
            raise GdsimError(
                f"{path}: optimizers given by import path ({text.strip()[:60]!r}) are not loaded"
                " from files, since importing runs code; use a registry name like Adam(lr=0.01)"
            )
        return spec_text(_engine(path, parse_spec, text))

    # -- sections

    def session(self, doc: Any) -> Session:
        if not isinstance(doc, dict):
            raise GdsimError(
                f"not a gdsim session: the document is {_type_name(doc)}, not an object"
            )
        if "format" not in doc:
            raise GdsimError(f'not a gdsim session: no "format": "{FORMAT}" key')
        if doc["format"] != FORMAT:
            shown = repr(doc["format"])[:60] if isinstance(doc["format"], str) else "not text"
            raise GdsimError(f"not a gdsim session: format is {shown}, expected {FORMAT!r}")
        if "version" not in doc:
            raise GdsimError("version is missing")
        version = doc["version"]
        if isinstance(version, bool) or not isinstance(version, int) or version < 1:
            raise GdsimError(f"version must be a whole number >= 1, got {str(version)[:40]}")
        if version > VERSION:
            raise GdsimError(
                f"made by a newer gdsim (version {version}); this gdsim reads version {VERSION}"
            )
        known = ("format", "version", "title", "explanation", "view", "surfaces", "training")
        self.obj(doc, "", known)
        title = self.text(doc.get("title", ""), "title", MAX_TITLE)
        explanation = self.text(
            doc.get("explanation", ""), "explanation", MAX_EXPLANATION, multiline=True
        )
        view = self.text(doc.get("view", "surfaces"), "view", 40)
        if view not in VIEWS:
            raise GdsimError(f"view must be 'surfaces' or 'training', got {view[:40]!r}")
        # only the shown view's section is required: a training preset leaves the Surfaces alone
        if doc.get(view) is None:
            raise GdsimError(f"view is {view!r} but the {view!r} section is missing")
        surfaces = None if doc.get("surfaces") is None else self.surfaces(doc["surfaces"])
        training = None if doc.get("training") is None else self.training(doc["training"])
        warnings = list(self.warnings)
        if self.ignored > len(warnings):
            warnings.append(f"... and {self.ignored - len(warnings)} more unknown keys ignored")
        return Session(title, explanation, view, surfaces, training, tuple(warnings))

    def surfaces(self, value: Any) -> SurfacesState:
        p = "surfaces"
        d = self.obj(
            value, p, ("surface", "start", "runners", "speed", "steps", "noise", "horizon")
        )
        if "surface" not in d:
            raise GdsimError(f"{p}.surface is missing (a name like rosenbrock or an expression)")
        text = self.text(d["surface"], f"{p}.surface", 2000, empty=False)
        surface = _engine(f"{p}.surface", get_surface, text).name
        start = self.point(d.get("start"), f"{p}.start")
        runners_json = d.get("runners", [])
        if not isinstance(runners_json, list):
            raise GdsimError(f"{p}.runners must be a list, got {_type_name(runners_json)}")
        if len(runners_json) > MAX_RUNNERS:
            raise GdsimError(
                f"{p}.runners: {len(runners_json)} runners; at most {MAX_RUNNERS} are allowed"
            )
        horizon = DEFAULT_HORIZON
        if "horizon" in d:
            horizon = self.integer(d["horizon"], f"{p}.horizon")
            _engine(f"{p}.horizon", check_horizon, horizon)
        runners = tuple(
            self.runner(r, f"{p}.runners[{i}]", horizon) for i, r in enumerate(runners_json)
        )
        speed = self.number(d.get("speed", SPEED_DEFAULT), f"{p}.speed")
        if not SPEED_MIN <= speed <= SPEED_MAX:
            raise GdsimError(
                f"{p}.speed must be between {SPEED_MIN:g} and {SPEED_MAX:g} steps/s, got {speed:g}"
            )
        steps = self.integer(d.get("steps", 0), f"{p}.steps")
        if not 0 <= steps <= MAX_STEPS:
            raise GdsimError(f"{p}.steps must be between 0 and {MAX_STEPS}, got {steps}")
        sigma, seed = 0.0, 0
        if d.get("noise") is not None:
            n = self.obj(d["noise"], f"{p}.noise", ("sigma", "seed"))
            if "sigma" not in n:
                raise GdsimError(f"{p}.noise.sigma is missing (the gradient noise, e.g. 0.5)")
            sigma = _engine(
                f"{p}.noise.sigma", check_noise, self.number(n["sigma"], f"{p}.noise.sigma")
            )
            seed = _engine(
                f"{p}.noise.seed", check_seed, self.integer(n.get("seed", 0), f"{p}.noise.seed")
            )
        return SurfacesState(surface, start, runners, speed, steps, sigma, seed, horizon)

    def runner(self, value: Any, path: str, horizon: int = DEFAULT_HORIZON) -> RunnerState:
        d = self.obj(value, path, ("spec", "label", "visible", "start", "scheduler"))
        if "spec" not in d:
            raise GdsimError(f"{path}.spec is missing (an optimizer SPEC like Adam(lr=0.01))")
        spec = self.spec(d["spec"], f"{path}.spec")
        label = d.get("label")
        if label is not None:
            label = self.text(label, f"{path}.label", MAX_LABEL).strip() or None
        visible = self.boolean(d.get("visible", True), f"{path}.visible")
        start = self.point(d.get("start"), f"{path}.start")
        scheduler = None
        if d.get("scheduler") is not None:
            where = f"{path}.scheduler"
            text = self.text(d["scheduler"], where, 2000)
            if text.strip().lower() not in ("", "none"):
                sched = _engine(where, parse_scheduler, text)
                _engine(where, check_schedule, parse_spec(spec), sched, horizon)
                scheduler = str(sched)
        return RunnerState(spec, label, visible, start, scheduler)

    def training(self, value: Any) -> TrainConfig:
        p = "training"
        d = self.obj(value, p, _TRAINING_FIELDS)
        kw: dict[str, Any] = {}
        if "dataset" in d:
            kw["dataset"] = self.text(d["dataset"], f"{p}.dataset", 2000, empty=False)
            _engine(f"{p}.dataset", TrainConfig, dataset=kw["dataset"])
        if "dataset_options" in d:
            opts = d["dataset_options"]
            if not isinstance(opts, dict):
                raise GdsimError(f"{p}.dataset_options must be an object, got {_type_name(opts)}")
            kw["dataset_options"] = {
                k: self.integer(v, f"{p}.dataset_options.{k[:40]}") for k, v in opts.items()
            }
        for name in ("samples", "epochs", "batch_size", "seed"):
            if name in d:
                kw[name] = self.integer(d[name], f"{p}.{name}")
        for name in ("noise", "patience", "scheduler"):
            if d.get(name, 0) is None:
                kw[name] = None
        if d.get("noise") is not None:
            kw["noise"] = self.number(d["noise"], f"{p}.noise")
        if "val_fraction" in d:
            kw["val_fraction"] = self.number(d["val_fraction"], f"{p}.val_fraction")
        if "hidden" in d:
            hidden = d["hidden"]
            if not isinstance(hidden, list) or len(hidden) > MAX_HIDDEN_LAYERS:
                raise GdsimError(
                    f"{p}.hidden must be a list of at most {MAX_HIDDEN_LAYERS} layer widths,"
                    f" got {_type_name(hidden)}"
                    + (f" of {len(hidden)}" if isinstance(hidden, list) else "")
                )
            kw["hidden"] = tuple(self.integer(w, f"{p}.hidden[{i}]") for i, w in enumerate(hidden))
        if "activation" in d:
            kw["activation"] = self.text(d["activation"], f"{p}.activation", 40, empty=False)
        if "optimizers" in d:
            opts_json = d["optimizers"]
            if not isinstance(opts_json, list) or not opts_json:
                raise GdsimError(f"{p}.optimizers must be a non-empty list of optimizer SPECs")
            if len(opts_json) > MAX_RUNNERS:
                raise GdsimError(
                    f"{p}.optimizers: {len(opts_json)} optimizers; at most {MAX_RUNNERS} are allowed"
                )
            kw["optimizers"] = tuple(
                self.spec(s, f"{p}.optimizers[{i}]") for i, s in enumerate(opts_json)
            )
        if d.get("scheduler") is not None:
            kw["scheduler"] = self.text(d["scheduler"], f"{p}.scheduler", 2000)
        if d.get("patience") is not None:
            kw["patience"] = self.integer(d["patience"], f"{p}.patience")
        if "device" in d:  # its form only: a session made on a GPU machine still opens on a laptop
            device = self.text(d["device"], f"{p}.device", 40, empty=False)
            device = device.strip().lower().replace(" ", "")
            if not _DEVICE.match(device):
                raise GdsimError(
                    f"{p}.device: unknown device {device[:40]!r} (use auto, cpu, cuda, cuda:N or mps)"
                )
            kw["device"] = device
        if "stop_early" in d:
            kw["stop_early"] = self.boolean(d["stop_early"], f"{p}.stop_early")
        # each field the engine checks on its own, so the message can say which one
        for name in ("hidden", "activation", "scheduler", "epochs", "batch_size", "patience"):
            if kw.get(name) is not None:
                _engine(f"{p}.{name}", TrainConfig, **{name: kw[name]})
        if "val_fraction" in kw:
            _engine(f"{p}.val_fraction", TrainConfig, val_fraction=kw["val_fraction"])
        config = _engine(p, TrainConfig, **kw)
        _engine(p, config.make_data)  # samples, noise, seed and data set options are checked here
        return config


# --------------------------------------------------------------------------------------------
# Reading and writing
# --------------------------------------------------------------------------------------------


def _refuse_constant(name: str) -> Any:
    raise GdsimError(f"not valid JSON: {name} is not allowed; numbers must be finite")


def _parse_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise GdsimError(f"not valid JSON: the number {text[:40]} is too large")
    return value


def _parse_int(text: str) -> int:
    digits = len(text.lstrip("-"))
    if digits > MAX_INT_DIGITS:
        raise GdsimError(f"not valid JSON: a number with {digits} digits is too long")
    return int(text)


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise GdsimError(f"key {key[:40]!r} is given twice in one object")
        out[key] = value
    return out


def _depth_ok(doc: Any) -> bool:
    """True if ``doc`` is nested at most MAX_DEPTH deep (iterative: no recursion to exhaust)."""
    stack = [(doc, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, (dict, list)):
            if depth > MAX_DEPTH:
                return False
            children = value.values() if isinstance(value, dict) else value
            stack.extend((c, depth + 1) for c in children if isinstance(c, (dict, list)))
    return True


def loads_session(data: bytes | str) -> Session:
    """Parse and validate session content (the bytes of a file, or text)."""
    return Session.from_json(_document(data))


_TRAINING_FIELD = re.compile(r"^training\.([a-z_]+)")


def loads_saved(data: bytes | str) -> Session:
    """A session gdsim saved itself (the settings keep one): as :func:`loads_session`, but a
    training value the validator refuses now (a hand edit, an optimizer a newer gdsim renamed) is
    left out, so its default is used, and named in ``warnings``: one bad value costs only itself."""
    doc = _document(data)
    dropped: list[str] = []
    while True:  # each turn removes a key, so this ends
        try:
            session = Session.from_json(doc)
        except GdsimError as exc:
            match = _TRAINING_FIELD.match(str(exc))
            part = doc.get("training") if isinstance(doc, dict) else None
            if match is None or not isinstance(part, dict) or match.group(1) not in part:
                raise
            del part[match.group(1)]
            dropped.append(f"ignored {error_line(exc)}")
        else:
            return replace(session, warnings=(*dropped, *session.warnings))


def _document(data: bytes | str) -> Any:
    """The parsed JSON of session content, checked for size, encoding, numbers and depth."""
    if isinstance(data, str):
        text = data
        size = len(text.encode("utf-8", "surrogatepass"))
    elif isinstance(data, (bytes, bytearray)):
        size = len(data)
        text = None
    else:
        raise TypeError(f"session content must be bytes or str, got {type(data).__name__}")
    if size > MAX_FILE_BYTES:
        raise GdsimError(f"session is too large ({size:,} bytes; at most {MAX_FILE_BYTES:,})")
    if text is None:
        raw = bytes(data)
        if raw.startswith(b"\xef\xbb\xbf"):
            raw = raw[3:]  # a UTF-8 byte order mark (some Windows editors write one)
        if b"\x00" in raw:
            raise GdsimError("not a session: the file is binary (it contains NUL bytes)")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise GdsimError(
                f"not a session: the file is not UTF-8 text (byte 0x{raw[exc.start]:02x}"
                f" at offset {exc.start})"
            ) from None
    if not text.strip():
        raise GdsimError("the session file is empty")
    try:
        doc = json.loads(
            text,
            parse_constant=_refuse_constant,
            parse_float=_parse_float,
            parse_int=_parse_int,
            object_pairs_hook=_pairs,
        )
    except GdsimError:  # refused by a hook (NaN, a huge number, a duplicate key)
        raise
    except json.JSONDecodeError as exc:
        if exc.pos >= len(text.rstrip()) or exc.msg.startswith("Unterminated string"):
            raise GdsimError(
                f"not valid JSON: the file ends too early (truncated?) at line {exc.lineno}"
            ) from None
        raise GdsimError(
            f"not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}"
        ) from None
    except RecursionError:
        raise GdsimError(f"not a session: nested more than {MAX_DEPTH} levels deep") from None
    except ValueError as exc:  # e.g. an int beyond Python's digit limit
        raise GdsimError(f"not valid JSON: {error_line(exc)[:120]}") from None
    if not _depth_ok(doc):
        raise GdsimError(f"not a session: nested more than {MAX_DEPTH} levels deep")
    return doc


def load_session(path: str | os.PathLike) -> Session:
    """Read and validate a session file; GdsimError (one line) for anything wrong with it.

    The size is checked before anything is read, and only regular files are opened (a fifo or a
    device could block or never end).
    """
    name = os.fspath(path)
    info = check_regular(name, "session")
    if info.st_size > MAX_FILE_BYTES:
        raise GdsimError(
            f"session {name} is too large ({info.st_size:,} bytes; at most"
            f" {MAX_FILE_BYTES:,}): not a gdsim session"
        )
    try:  # O_NONBLOCK: a fifo swapped in since the check cannot block the open
        with open(os.open(name, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0)), "rb") as fh:
            if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
                raise GdsimError(f"cannot open session {name}: not a regular file")
            data = fh.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise GdsimError(f"cannot open session {name}: {exc.strerror or exc}") from None
    return loads_session(data)


def _dump(value: Any, indent: str = "") -> str:
    """Indented JSON with lists of plain values on one line (``"start": [-2.5, 1.0]``)."""
    inner = indent + "  "
    if isinstance(value, dict) and value:
        items = [
            f"{inner}{json.dumps(k, ensure_ascii=False)}: {_dump(v, inner)}"
            for k, v in value.items()
        ]
        return "{\n" + ",\n".join(items) + "\n" + indent + "}"
    if isinstance(value, list) and any(isinstance(v, (dict, list)) for v in value):
        return "[\n" + ",\n".join(inner + _dump(v, inner) for v in value) + "\n" + indent + "]"
    return json.dumps(value, ensure_ascii=False, allow_nan=False)


def dumps_session(session: Session) -> str:
    """The file's text: indented JSON (short lists on one line), UTF-8, a final newline."""
    return _dump(session.to_json()) + "\n"


def save_session(session: Session, path: str | os.PathLike) -> None:
    """Validate ``session`` and write it atomically (an existing file is never truncated).

    The document is checked exactly as :func:`load_session` would check it, so gdsim never writes
    a session it would refuse to open.
    """
    if not isinstance(session, Session):
        raise TypeError(f"expected a Session, got {type(session).__name__}")
    try:
        text = dumps_session(session)
    except (TypeError, ValueError) as exc:
        raise GdsimError(f"cannot save session: {exc}") from None
    loads_session(text)
    write_text_atomic(path, text, what="session")


# --------------------------------------------------------------------------------------------
# Presets
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PresetInfo:
    """What a preset menu shows: the name to load it by, its title, explanation and view."""

    name: str
    title: str
    explanation: str
    view: str


_ORDER_PREFIX = re.compile(r"^\d+-")


def _preset_files() -> list[tuple[str, Any]]:
    """(name, resource) for each ``resources/presets/*.json``, in file-name order.

    Files are named ``NN-name.json``: the number orders the menu, the name is what
    :func:`load_preset` takes.
    """
    folder = resources.files("resources").joinpath("presets")
    files = sorted(
        (f for f in folder.iterdir() if f.name.endswith(".json") and f.is_file()),
        key=lambda f: f.name,
    )
    return [(_ORDER_PREFIX.sub("", f.name[: -len(".json")]), f) for f in files]


def _normalize(name: str) -> str:
    return re.sub(r"[-_\s]+", "-", name.strip().lower())


def list_presets() -> list[PresetInfo]:
    """The built-in lecture scenarios, in menu order."""
    out = []
    for name, _ in _preset_files():
        session = load_preset(name)
        out.append(PresetInfo(name, session.title, session.explanation, session.view))
    return out


def preset_name(name: str) -> str:
    """The preset ``name`` stands for: its full name, a unique start of it (``saddle``), its
    menu number (``3``) or its file name as the folder shows it (``03-saddle-escape``, with or
    without ``.json``), case-insensitive, ``_`` and ``-`` alike -- lecturers type these in
    front of a class. GdsimError names the candidates when the start is ambiguous."""
    return _find_preset(name)[0]


def load_preset(name: str) -> Session:
    """A built-in scenario, by any name :func:`preset_name` accepts."""
    preset, resource = _find_preset(name)
    try:
        return loads_session(resource.read_bytes())
    except GdsimError as exc:
        raise GdsimError(f"preset {preset}: {exc}") from None


def _find_preset(name: str) -> tuple[str, Any]:
    if not isinstance(name, str):
        raise GdsimError(f"a preset name must be text, got {_type_name(name)}")
    files = _preset_files()
    wanted = _normalize(name).removesuffix(".json")
    stems = {_normalize(r.name).removesuffix(".json"): p for p, r in files}
    numbered = {str(i): preset for i, (preset, _) in enumerate(files, start=1)}
    wanted = stems.get(wanted) or numbered.get(wanted.lstrip("0") or "0", wanted)
    matches = [(p, r) for p, r in files if p == wanted]
    if not matches and wanted:
        matches = [(p, r) for p, r in files if p.startswith(wanted)]
    if len(matches) == 1:
        return matches[0]
    if matches:
        raise GdsimError(
            f"preset {name.strip()[:60]!r} could be any of: {', '.join(p for p, _ in matches)}"
        )
    known = ", ".join(p for p, _ in files)
    raise GdsimError(f"unknown preset {name.strip()[:60]!r} (choose from: {known})")
