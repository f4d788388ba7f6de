"""The versions of the tools a generated project is built with: one row per tool.

uv's minor version appears in four places of a generated project (the uv_build bound, uv's
`required-version`, the container and devcontainer images, the GitLab CI image); they are
all derived from `UV_MINOR` here. Moving to a new uv minor is a one-line change.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class UvRelease:
    """One uv minor (`0.13`): everything the generated project pins to it."""

    minor: str

    @property
    def next_minor(self) -> str:
        major, minor = self.minor.split(".")
        return f"{major}.{int(minor) + 1}"

    @property
    def build_backend(self) -> str:
        """`[build-system] requires`: uv_build of this minor (its API may change at the next)."""
        return f"uv_build>={self.minor},<{self.next_minor}"

    @property
    def required_version(self) -> str:
        """`[tool.uv] required-version`: the oldest uv that reads the project as written."""
        return f">={self.minor}"

    @property
    def image(self) -> str:
        """uv's own image, the binary alone (a Docker build stage copies it)."""
        return f"ghcr.io/astral-sh/uv:{self.minor}"

    @property
    def debian_image(self) -> str:
        """uv on Debian (Apptainer's build stage, GitLab CI). The tag follows uv's patches."""
        return f"ghcr.io/astral-sh/uv:{self.minor}-trixie-slim"


UV = UvRelease("0.13")
