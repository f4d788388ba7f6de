"""The versions of the tools a generated project is built with: one row per tool.

uv's minor version appears in four places of a generated project (the uv_build bound, uv's
`required-version`, the container and devcontainer images, the GitLab CI image); they are
all derived from `UV` here, so moving to a new uv minor is a one-line change. The same
goes for pixi (`PIXI`) and the tools the project runs at a pinned version.
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


@dataclass(frozen=True)
class PixiRelease:
    """What a pixi project needs of pixi, and the pixi image its GitLab CI runs in."""

    minimum: str  # the oldest pixi with platform entries that declare CUDA ("rich platforms")
    image_version: str

    @property
    def required(self) -> str:
        """`[tool.pixi.workspace] requires-pixi`."""
        return f">={self.minimum}"

    @property
    def image(self) -> str:
        return f"ghcr.io/prefix-dev/pixi:{self.image_version}"


PIXI = PixiRelease(minimum="0.71", image_version="0.77.0")

# Tools the generated project runs at a pinned version, from PyPI: the file checks of its
# pre-commit config, and the weekly audit (pip-audit against OSV, run with uvx; uv's own
# `uv audit` is marked experimental: "may change without warning").
PRE_COMMIT_HOOKS = "pre-commit-hooks==6.0.0"
PIP_AUDIT = "pip-audit==2.10.1"
