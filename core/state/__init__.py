"""Qt-free models of what each view shows: the window's widgets write commands to them and
redraw on their events (napari's components/_qt split)."""
