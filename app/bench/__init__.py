"""``gdsim bench`` (``cli``) and the window's measurements behind it: GUI stalls (``stalls``),
start-up and quit (``startup``), surface frames (``surface``), the Training view
(``training_view``) and its memory over many epochs (``memory``); the Qt-free ones live in
core/bench/."""
