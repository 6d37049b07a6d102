"""Benchmarks: tinygraph against hand-written numpy and its peers. Run ``python -m benchmarks``."""
