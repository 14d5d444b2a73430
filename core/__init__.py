"""gdsim's engine: surfaces, optimizers, the race and the training loop.

Pure torch + numpy. Nothing here may import Qt, so the same engine drives the window, a notebook
and the command line (tests/core/test_qt_free.py enforces it).
"""
