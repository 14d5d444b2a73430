"""Text from a file, a setting, a SPEC or the user is shown as plain text everywhere (issue 13).

Qt renders a QLabel (AutoText), a tooltip and a message box as HTML when the text looks like
HTML, and pyqtgraph's legends, titles and axis labels always take HTML: a shared session titled
``<img src="/dev/zero">`` made ``gdsim render`` allocate until it died, ``<img src=local.png>``
drew a local file. These tests load hostile text through the real paths (File › Open, the
settings restore, renaming a runner, ``gdsim render``/``--screenshot``) and then walk every
text-showing thing in the window: each payload must read literally, and no image appears.

A payload is ``prefix + marker + suffix`` (``<b>Mt</b>``): wherever its unique marker is shown,
the markup before it must be shown too -- rendered as HTML, the marker would stand alone.
"""

from __future__ import annotations

import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QImage, QTextDocument
from PySide6.QtGui import Qt as GuiQt  # mightBeRichText lives in QtGui
from PySide6.QtWidgets import (
    QAbstractButton,
    QApplication,
    QComboBox,
    QGraphicsTextItem,
    QGraphicsView,
    QGroupBox,
    QLabel,
    QListWidget,
    QMessageBox,
    QWidget,
)

from app import export
from app.main import main
from tests.gui.helpers import shown
from tests.gui.test_render import render
from tests.gui.test_session_files_gui import error_boxes, open_file

PNG_RGB = (11, 222, 99)  # a colour nothing in gdsim draws: seen in a picture = the image was


@dataclass(frozen=True)
class Payload:
    prefix: str
    marker: str
    suffix: str = ""

    @property
    def text(self) -> str:
        return f"{self.prefix}{self.marker}{self.suffix}"


def templates(png: str) -> list[tuple[str, str]]:
    """(prefix, suffix) pairs of rich text Qt or pyqtgraph would render."""
    return [
        ("<b>", "</b>"),
        ("<i>", ""),
        ('<a href="https://example.org">', "</a>"),
        ("<table><tr><td>", "</td></tr></table>"),
        ("&amp;", ""),
        ("&lt;b&gt;", ""),
        (f'<img src="{png}">', ""),
        ('<span style="color:red">', "</span>"),
        ("<!DOCTYPE html><h1>", "</h1>"),
        ("<qt>", ""),
        ("<br>", ""),
    ]


@pytest.fixture
def png():
    """A small local PNG at a short path (titles and labels are at most 120 characters)."""
    folder = tempfile.mkdtemp(prefix="g")
    img = QImage(24, 24, QImage.Format.Format_RGB32)
    img.fill(QColor(*PNG_RGB))
    path = os.path.join(folder, "i.png")
    assert img.save(path)
    yield path
    shutil.rmtree(folder)


# ------------------------------------------------------------------------------ the walk


def _rendered(text: str, rich: bool) -> str:
    """What Qt shows for ``text``, as text: HTML turned into what it displays."""
    if not rich:
        return text
    doc = QTextDocument()
    doc.setHtml(text)  # parsing only: no layout, so no image is ever loaded here
    return doc.toPlainText()


def _label(label: QLabel) -> str:
    fmt = label.textFormat()
    assert fmt != Qt.TextFormat.MarkdownText, label.objectName()
    auto = fmt == Qt.TextFormat.AutoText and GuiQt.mightBeRichText(label.text())
    return _rendered(label.text(), fmt == Qt.TextFormat.RichText or auto)


def _tip(text: str) -> str:
    return _rendered(text, GuiQt.mightBeRichText(text))  # how QToolTip decides


def shown_texts(window) -> list[tuple[str, str]]:
    """(where, what it shows) for every text-showing thing in the window and its dialogs."""
    roots = [window] + [
        w for w in QApplication.topLevelWidgets() if isinstance(w, QMessageBox) and w.isVisible()
    ]
    out: list[tuple[str, str]] = [("status bar", window.statusBar().currentMessage())]
    for w in {id(w): w for root in roots for w in (root, *root.findChildren(QWidget))}.values():
        where = f"{type(w).__name__}#{w.objectName()}"
        out.append((f"{where} tooltip", _tip(w.toolTip())))
        out.append((f"{where} title", w.windowTitle()))
        if isinstance(w, QLabel):
            out.append((where, _label(w)))
        elif isinstance(w, QAbstractButton):
            out.append((where, w.text()))
        elif isinstance(w, QGroupBox):
            out.append((where, w.title()))
        if isinstance(w, QListWidget):
            for i in range(w.count()):
                out.append((f"{where} item {i}", w.item(i).text()))
                out.append((f"{where} item {i} tooltip", _tip(w.item(i).toolTip())))
        if isinstance(w, QComboBox):
            for i in range(w.count()):
                tip = w.itemData(i, Qt.ItemDataRole.ToolTipRole)
                out.append((f"{where} item {i}", w.itemText(i)))
                out.append((f"{where} item {i} tooltip", _tip(tip if isinstance(tip, str) else "")))
        if isinstance(w, QGraphicsView) and w.scene() is not None:  # every pyqtgraph plot
            for item in w.scene().items():
                name = f"{where} {type(item).__name__}"
                if isinstance(item, QGraphicsTextItem):  # LabelItem, legends, axes, TextItem
                    out.append((name, item.toPlainText()))
                out.append((f"{name} tooltip", _tip(item.toolTip())))
        for a in w.actions():
            out.append((f"{where} action {a.objectName()}", a.text()))
            out.append((f"{where} action {a.objectName()} tooltip", _tip(a.toolTip())))
    return out


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", text.replace("\xa0", " "))


def assert_literal(window, payloads: list[Payload]) -> list[tuple[str, str]]:
    """No payload is rendered as markup anywhere; returns the texts for further checks."""
    texts = shown_texts(window)
    for where, text in texts:
        s = _norm(text)
        for p in payloads:
            literal = _norm(p.prefix + p.marker)
            assert s.count(p.marker) == s.count(literal), (
                f"{where} renders {p.text!r} as rich text: {text!r}"
            )
    return texts


def image_pixels(widget: QWidget) -> int:
    """Pixels of the local PNG's colour in a picture of ``widget``."""
    return _png_pixels(export.qimage_to_rgb(widget.grab().toImage()))


def _png_pixels(rgb: np.ndarray) -> int:
    return int(np.all(rgb[..., :3] == np.array(PNG_RGB, dtype=rgb.dtype), axis=-1).sum())


def shows(texts: list[tuple[str, str]], payload: Payload, where: str) -> bool:
    return any(where in w and _norm(payload.text.strip()) in _norm(shown) for w, shown in texts)


# ------------------------------------------------------------------------------ sessions


def session_doc(p: dict[str, Payload], training: bool = True) -> dict:
    """A valid session with a payload in every text field a session carries (the training
    section has none: it is there so that both views are set up by the file)."""
    doc = {
        "format": "gdsim-session",
        "version": 1,
        "title": p["title"].text,
        "explanation": p["explanation"].text,
        "view": "surfaces",
        "surfaces": {
            "surface": "bowl",
            "runners": [
                {"spec": "SGD(lr=0.05)", "label": p["label0"].text},
                {
                    "spec": "Adam(lr=0.1)",
                    "label": p["label1"].text,
                    "scheduler": "StepLR(step_size=10)",
                },
            ],
            "steps": 3,
            p["key"].text: 1,  # an unknown key: named in the status bar
        },
    }
    if training:
        doc["training"] = {"optimizers": ["SGD(lr=0.1)", "Adam(lr=0.01)"]}
    return doc


def hostile(png: str) -> dict[str, Payload]:
    return {
        "title": Payload(f'<img src="{png}"><b>', "Mtitle", "</b>"),
        "explanation": Payload("<table><tr><td>", "Mexpl", "</td></tr></table>\n<i>x</i>"),
        "label0": Payload('<a href="x">', "Mlab0", "</a>"),
        "label1": Payload(f'<img src="{png}">', "Mlab1"),
        "key": Payload("<b>", "Mkey", "</b>"),
    }


def write(tmp_path: Path, name: str, doc: dict) -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def open_hostile(window, monkeypatch, path) -> None:
    open_file(window, monkeypatch, path)  # File › Open, as a user does
    assert error_boxes(window) == []
    window.show_view("training")  # both views built, so both are walked
    window.show_view("surfaces")
    QApplication.processEvents()


def test_a_hostile_session_is_shown_literally_everywhere(window, monkeypatch, tmp_path, png):
    payloads = hostile(png)
    open_hostile(window, monkeypatch, write(tmp_path, "hostile.json", session_doc(payloads)))
    texts = assert_literal(window, list(payloads.values()))
    banner = window.sessions.banner
    assert banner.isVisible() and banner.title.text() == payloads["title"].text
    assert banner.text.text() == payloads["explanation"].text
    for key in ("label0", "label1"):  # in the list, the legend and the tools
        assert shows(texts, payloads[key], "QListWidget#"), key
        assert shows(texts, payloads[key], "QGraphicsTextItem"), key  # the legend
    assert shows(texts, payloads["key"], "status bar")
    session = window.current_session()  # what it saves is the text, not an escaped copy
    assert (session.title, session.explanation) == (banner.title.text(), banner.text.text())
    assert image_pixels(window) == 0, "a local image was drawn into the window"
    # and the labels the walk found no payload in are plain too, ready for the next field:
    # rich text only where gdsim writes the markup itself (quoted text escaped)
    rich = {
        label.objectName()
        for label in window.findChildren(QLabel)
        if label.textFormat() != Qt.TextFormat.PlainText
    }
    assert rich <= {"trainLrLane", "lrFinderResult"}, rich


@pytest.mark.parametrize(
    "field, value",
    [
        ("spec", "SGD(lr='{p}')"),
        ("scheduler", "StepLR(step_size='{p}')"),
    ],
)
def test_a_refused_session_quotes_its_value_literally(
    window, monkeypatch, tmp_path, png, field, value
):
    payload = Payload(f'<img src="{png}">', "Mq")  # errors quote ~37 characters of a value
    runner = {"spec": "SGD(lr=0.1)", field: value.format(p=payload.text)}
    doc = {
        "format": "gdsim-session",
        "version": 1,
        "view": "surfaces",
        "surfaces": {"surface": "bowl", "runners": [runner]},
    }
    open_file(window, monkeypatch, write(tmp_path, "refused.json", doc))
    QApplication.processEvents()
    (box,) = error_boxes(window)
    texts = assert_literal(window, [payload])
    assert shows(texts, payload, "qt_msgbox_label"), "the error does not quote the value"
    assert image_pixels(box) == 0, "a local image was drawn into the error box"


def test_saved_settings_are_shown_literally(qtbot, png):
    """Runner labels restored from the settings file, through the real restore."""
    from app.main_window import MainWindow
    from app.settings import open_settings

    payloads = [Payload("<b>", "Mset0", "</b>"), Payload(f'<img src="{png}">', "Mset1")]
    s = open_settings()
    s.beginGroup("views/surfaces")
    s.setValue("surface", "bowl")
    s.beginWriteArray("runners", len(payloads))
    for i, p in enumerate(payloads):
        s.setArrayIndex(i)
        s.setValue("spec", "SGD(lr=0.05)")
        s.setValue("label", p.text)
    s.endArray()
    s.endGroup()
    s.sync()
    win = MainWindow()
    shown(qtbot, win)
    texts = assert_literal(win, payloads)
    for p in payloads:
        assert shows(texts, p, "QListWidget#"), p
    assert image_pixels(win) == 0
    win.close()


# ------------------------------------------------------------------------------ pictures


def test_render_and_screenshot_draw_no_local_image(qtbot, tmp_path, png):
    payloads = hostile(png)
    path = write(tmp_path, "hostile.json", session_doc(payloads, training=False))
    out = tmp_path / "out.png"
    assert render("--session", str(path), "--steps", "2", "-o", str(out)) == 0
    assert _png_pixels(export.qimage_to_rgb(QImage(str(out)))) == 0
    shot = tmp_path / "shot.png"
    assert main(["--screenshot", str(shot), "--session", str(path), "--steps", "2"]) == 0
    assert _png_pixels(export.qimage_to_rgb(QImage(str(shot)))) == 0


def _limit_memory() -> None:  # in the child: a regression fails with bad_alloc, not the machine
    limit = 3 * 1024**3  # a render needs ~1.1 GB of address space
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


@pytest.mark.slow
def test_render_of_a_dev_zero_image_session_finishes(tmp_path):
    """The issue's crash: ``<img src="/dev/zero">`` read until the process died."""
    zero = '<img src="/dev/zero">'
    doc = session_doc({k: Payload(zero, k) for k in ("title", "explanation", "label0", "label1")}
                      | {"key": Payload("", "k")}, training=False)  # fmt: skip
    path = write(tmp_path, "zero.json", doc)
    out = tmp_path / "zero.png"
    proc = subprocess.run(
        [sys.executable, "-m", "app", "render", "--session", str(path), "--steps", "1",
         "-o", str(out)],
        capture_output=True, text=True, timeout=600, preexec_fn=_limit_memory,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert out.exists()


# ------------------------------------------------------------------------------ fuzz

FILLER = st.text(alphabet='ab <>&;/"=', max_size=6)  # no ' : repr() would escape it


@st.composite
def payload_sets(draw, png: str) -> dict[str, Payload]:
    """A payload (random rich-text template, random filler around it) per text field."""
    kinds = templates(png)
    out = {}
    for name in ("title", "explanation", "label0", "label1", "key", "setting", "saved", "rename"):
        prefix, suffix = draw(st.sampled_from(kinds))
        before, after = draw(FILLER), draw(FILLER)
        if name == "explanation":
            after += draw(st.sampled_from(["", "\n", "\n\n<b>more</b>"]))
        marker = f"Z{name}Z"
        out[name] = Payload(f"x{before}{prefix}", marker, f"{suffix}{after}x")
    out["key"] = Payload(out["key"].prefix[:15], out["key"].marker, out["key"].suffix[:15])
    return out


def test_fuzz_rich_text_in_every_text_field_is_shown_literally(window, tmp_path, png):
    from app.settings import open_settings
    from core.files.session import loads_session

    ini = tmp_path / "fuzz.ini"
    window.show_view("training")
    window.show_view("surfaces")

    @settings(
        max_examples=8,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(payload_sets(png))
    def check(p: dict[str, Payload]) -> None:
        # a session, through the same apply_session File › Open uses
        window.apply_session(loads_session(json.dumps(session_doc(p, training=False))))
        QApplication.processEvents()
        texts = assert_literal(window, list(p.values()))
        for name in ("title", "label0", "label1"):
            assert shows(texts, p[name], ""), name
        # saved settings, through the views' restore: a runner label is shown, the other text
        # settings are refused (logged) -- in neither case rendered
        s = open_settings(ini)
        s.clear()
        s.beginGroup("views/surfaces")
        s.setValue("surface", p["saved"].text)
        s.beginWriteArray("runners", 1)
        s.setArrayIndex(0)
        s.setValue("spec", "RMSprop(lr=0.01)")
        s.setValue("label", p["setting"].text)
        s.setValue("scheduler", p["saved"].text)
        s.endArray()
        window.surface_view.restore_settings(s)
        s.endGroup()
        s.beginGroup("views/training")
        for key in ("dataset", "hidden", "activation", "scheduler", "device"):
            s.setValue(key, p["saved"].text)
        s.setValue("optimizers", [p["saved"].text, "Adam(lr=0.01)"])
        window.training_view.restore_settings(s)
        s.endGroup()
        QApplication.processEvents()
        assert shows(assert_literal(window, list(p.values())), p["setting"], "QListWidget#")
        # a name the user types when renaming a runner
        panel = window.surface_view.panel
        panel.list.item(0).setText(p["rename"].text)
        QApplication.processEvents()
        texts = assert_literal(window, list(p.values()))
        assert shows(texts, p["rename"], "QListWidget#")

    check()
    assert image_pixels(window) == 0
