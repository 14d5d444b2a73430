"""Series colours stay distinct for colour-blind viewers and on a washed-out projector: 16 of
them (MAX_RUNNERS), and any two that look alike in one of those conditions have different
marker shapes (issue 15: colours repeated after 10 runners, and SGD's orange and RMSprop's
dark orange looked alike)."""

from __future__ import annotations

import itertools

import numpy as np
from PySide6.QtCore import Qt

from app.theme import SERIES_COLORS, SERIES_SYMBOLS
from core.files.session import MAX_RUNNERS

# Machado, Oliveira & Fernandes (2009), severity 1.0, on linear RGB
CVD = {
    "deuteranopia": np.array(
        [[0.367322, 0.860646, -0.227968], [0.280085, 0.672501, 0.047413],
         [-0.011820, 0.042940, 0.968881]]
    ),
    "protanopia": np.array(
        [[0.152286, 1.052583, -0.204868], [0.114503, 0.786281, 0.099216],
         [-0.003882, -0.048116, 1.051998]]
    ),
    "tritanopia": np.array(
        [[1.255528, -0.076749, -0.178779], [-0.078411, 0.930809, 0.147602],
         [0.004733, 0.691367, 0.303900]]
    ),
}  # fmt: skip
ALIKE = 12.0  # CIE76 ΔE below which two series colours count as looking alike


def _linear(hex_color: str) -> np.ndarray:
    c = np.array([int(hex_color[i : i + 2], 16) / 255 for i in (1, 3, 5)])
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


def _lab(linear: np.ndarray) -> np.ndarray:
    m = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]])
    xyz = m @ np.clip(linear, 0, 1) / np.array([0.95047, 1.0, 1.08883])
    f = np.where(xyz > 0.008856, np.cbrt(xyz), 7.787 * xyz + 16 / 116)
    return np.array([116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])])


def _views(hex_color: str) -> dict[str, np.ndarray]:
    lin = _linear(hex_color)
    out = {"normal": _lab(lin)}
    for name, m in CVD.items():
        out[name] = _lab(m @ lin)
    washed = 0.55 * lin + 0.45  # a projector in a lit room: low contrast, lifted blacks
    out["washed-out projector"] = _lab(washed)
    return out


def test_sixteen_colours_one_per_runner():
    assert len(SERIES_COLORS) == len(set(SERIES_COLORS)) == MAX_RUNNERS == 16
    assert len(SERIES_SYMBOLS) == len(SERIES_COLORS) and "x" not in SERIES_SYMBOLS


def test_colours_that_look_alike_have_different_markers():
    views = {c: _views(c) for c in SERIES_COLORS}
    for (i, a), (j, b) in itertools.combinations(enumerate(SERIES_COLORS), 2):
        de = {k: float(np.linalg.norm(views[a][k] - views[b][k])) for k in views[a]}
        assert de["normal"] >= 15, (a, b)  # plainly different with normal colour vision
        alike = [k for k, d in de.items() if d < ALIKE]
        if alike:
            assert SERIES_SYMBOLS[i] != SERIES_SYMBOLS[j], f"{a} and {b} alike in {alike}"


def test_the_default_race_is_distinct_by_colour_alone():
    first = SERIES_COLORS[:4]  # SGD, SGD with momentum, Adam, RMSprop
    views = {c: _views(c) for c in first}
    for a, b in itertools.combinations(first, 2):
        for k in views[a]:
            assert np.linalg.norm(views[a][k] - views[b][k]) >= ALIKE, (a, b, k)


def test_sixteen_runners_get_sixteen_colours_and_their_markers(qtbot):
    from app.theme import get_theme
    from app.views.surface_view import SurfaceView

    view = SurfaceView()
    qtbot.addWidget(view)
    view.clear_runners()
    for _ in range(MAX_RUNNERS):
        view.add_runner("SGD(lr=0.001)")
    colors = [e.color for e in view.entries.values()]
    assert len(set(colors)) == MAX_RUNNERS  # they repeated after 10
    symbols = [s for *_xy, s in view.plots.head_spots()]
    assert symbols == [get_theme().series_symbol(c) for c in colors]
    view.shutdown()


def test_runners_whose_paths_coincide_both_stay_visible(qtbot):
    # issue 15 item 9: in the too-high-lr preset one runner was hidden under another
    from app.views.surface_view import SurfaceView

    view = SurfaceView()
    qtbot.addWidget(view)
    view.clear_runners()
    for _ in range(3):
        view.add_runner("SGD(lr=0.1)")  # the same optimizer from the same start: one path
    layer, order = view.plots.layer, list(view.entries)
    pens = [layer.pens(rid)[0] for rid in order]  # drawn in this order, later on top
    widths = [p.widthF() for p in pens]
    assert widths[0] > widths[1] > widths[2]  # each line under another is wider than it
    patterns = [tuple(p.dashPattern()) if p.style() != Qt.PenStyle.SolidLine else () for p in pens]
    assert len(set(patterns)) == 3  # and each has its own dash pattern
    samples = [view.plots.legend.samples[rid].dashes for rid in order]
    assert len(set(samples)) == 3  # the legend shows which pattern is which runner
    view.remove_runner(order[0])  # the others move down a place, and so do their looks
    first, second = (layer.pens(rid)[0] for rid in order[1:])
    assert first.widthF() > second.widthF() and first.style() == Qt.PenStyle.SolidLine
    assert view.plots.legend.samples[order[1]].dashes == ()
    view.shutdown()
