"""gdsim's window: PySide6 + pyqtgraph. Turns the engine's plain values into pixels.

This package's ``__init__`` stays import-light so ``gdsim SUBCOMMAND`` can run without Qt.
"""
