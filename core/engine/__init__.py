"""The engine: loss surfaces, typed expressions, optimizers and schedulers from torch.optim, the
race on a surface, the training loop, data sets and devices."""
