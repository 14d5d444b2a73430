"""gdsim without a window: ``engine/`` (surfaces, optimizers, the race, the training loop),
``teach/`` (tools built on the engine), ``files/`` (sessions, atomic writes), ``cli/`` and ``bench/``.

Pure torch + numpy. Nothing here may import Qt, so the same engine drives the window, a notebook
and the command line (tests/core/test_qt_free.py enforces it).
"""
