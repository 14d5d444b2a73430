"""``gdsim bench`` (``cli``) and the window's measurements behind it: GUI stalls (``stalls``),
start-up and quit (``startup``), surface frames (``surface``) and the Training view
(``training_view``); the Qt-free ones live in ``core.bench``."""
