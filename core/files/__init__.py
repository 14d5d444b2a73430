"""What gdsim reads and writes: sessions and presets, and the one atomic writer."""
