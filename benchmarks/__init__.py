"""Benchmark of copier-research against setting the same project up by hand with uv.

Run it with `uv run python -m benchmarks.run` (see docs/benchmarks.md).
"""
