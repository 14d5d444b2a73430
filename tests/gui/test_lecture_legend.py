"""Issue 15, item 9: a name given for a runner's own start ("SGD from (−1, 0)", as the
Himmelblau preset has) goes when a new surface or start point moves every runner."""

from __future__ import annotations


def test_a_start_named_in_the_legend_goes_when_the_runners_move(window):
    assert window.sessions.load_preset("himmelblau-four-minima")
    view = window.surface_view
    assert "SGD from (−1, 0)" in view.plots.legend_texts()
    view.add_runner("Adam(lr=0.05)", label="Bold Adam")  # from the shared start
    view.set_surface("rosenbrock")
    texts = view.plots.legend_texts()
    assert not any(" from (" in t for t in texts), texts
    assert "Bold Adam" in texts  # a name that said nothing about a start stays
    assert all(e.runner.start == view.race.start for e in view.entries.values())
