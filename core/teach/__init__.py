"""Teaching tools over the engine: update anatomy, basins of attraction, loss landscapes, the
learning-rate finder, and the exported PyTorch scripts."""
