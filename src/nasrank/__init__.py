"""nasrank: reproducible studies of performance predictors for neural architecture search."""

__version__ = "0.1.0"
