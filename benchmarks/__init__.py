"""Benchmark of copier-research against setting the same project up by hand with uv.

Run it with `uv run python -m benchmarks.run` (see docs/benchmarks.md).
"""

# The generated project's own rules (research_kit.setup.pins, in template/kit/src) tell which
# dependencies are the project's folders; importing tasks puts that folder on sys.path.
import tasks  # noqa: F401
