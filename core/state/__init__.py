"""Qt-free models of what each view shows: the widgets write here and listen to their events."""
