"""The `ci_provider` question: the commands CI and the pre-commit hooks run, per env manager.

CI runs on CPU runners. A CUDA build of torch still installs and imports there (it finds no
driver and runs on the CPU), so the smoke test's verdict is "usable on CPU", exit code 0.

A project that takes PyTorch from a local wheel folder records the folder's path in
pyproject.toml and uv.lock, and a hosted runner (GitHub's, GitLab.com's) cannot see it: `uv
sync --locked` would fail there on every push. Such a project gets no CI by default, and
asking for it is refused with the way out (a mirror URL the runners reach).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, get_args

from . import torch_index, wheel_folder
from .tool_versions import PIXI, UV

CiProvider = Literal["github", "gitlab", "none"]  # the `ci_provider` answer
CI_PROVIDERS: tuple[CiProvider, ...] = get_args(CiProvider)

# Actions pinned to a commit (a tag can move), the release in the comment; Dependabot
# (.github/dependabot.yml) proposes updates of both.
ACTIONS = {
    "checkout": "actions/checkout@3d3c42e5aac5ba805825da76410c181273ba90b1 # v7.0.1",
    "setup-uv": "astral-sh/setup-uv@20cfd1bf945f4377ade1205e4dbc17946fc9a30d # v10.0.1",
    "setup-pixi": "prefix-dev/setup-pixi@f00437f565399d418b0acc85936d12c1fb668347 # v0.10.1",
    "zizmor": "zizmorcore/zizmor-action@6fc4b006235f201fdab3722e17240ab420d580e5 # v0.6.1",
    "create-pull-request": (
        "peter-evans/create-pull-request@5f6978faf089d4d20b00c7766989d076bb2fc7f1 # v8.1.1"
    ),
}


@dataclass(frozen=True)
class Commands:
    """How one env manager installs the locked environment and runs a tool in it."""

    install: str  # installs exactly the lock, fails if it is out of date
    run: str  # prefix that runs a command in the locked environment
    lock_check: str  # fails when the lock no longer matches pyproject.toml
    lock_file: str
    image: str  # GitLab CI image that carries the tool (uv on Debian: it installs the Python)


COMMANDS = {
    "uv": Commands(
        install="uv sync --locked",
        run="uv run --locked",
        lock_check="uv lock --check",
        lock_file="uv.lock",
        image=UV.debian_image,
    ),
    "pixi": Commands(
        install="pixi install --locked",
        run="pixi run --locked",
        lock_check="pixi lock --check",
        lock_file="pixi.lock",
        image=PIXI.image,
    ),
}


def _local(framework: str, torch_index_url: str) -> bool:
    return framework == "pytorch" and wheel_folder.local_folder(torch_index_url) is not None


def ci_provider_default(framework: str = "pytorch", torch_index_url: str = "") -> str:
    """github, or none for a project whose PyTorch comes from a local folder (see above)."""
    return "none" if _local(framework, torch_index_url) else "github"


# The GitHub runner of each platform the lock can target: CI runs on the first the project
# targets, in the table's order (Linux x86_64 whenever it is one of them).
GITHUB_RUNNERS = {
    "linux-x86_64": "ubuntu-latest",
    "linux-aarch64": "ubuntu-24.04-arm",
    "windows-x86_64": "windows-latest",
    "macos-arm64": "macos-latest",
}
GITLAB_PLATFORM = "linux-x86_64"  # what the uv image runs on GitLab's shared runners


def github_runner(platforms: Sequence[str]) -> str:
    """The runner CI installs the lock on: one of the platforms it is made for."""
    found = (GITHUB_RUNNERS[name] for name in GITHUB_RUNNERS if name in platforms)
    return next(found, "ubuntu-latest")


def ci_provider_error(
    ci_provider: str,
    framework: str = "pytorch",
    torch_index_url: str = "",
    platforms: Sequence[str] | None = None,
) -> str:
    if ci_provider == "gitlab" and platforms is not None and GITLAB_PLATFORM not in platforms:
        return (
            "GitLab CI runs the checks in a Linux x86_64 container, a platform this project's "
            f"lock is not made for ({', '.join(platforms)}). Add {GITLAB_PLATFORM} to "
            "platforms, or choose github (its runners include macOS, Windows and ARM) or none."
        )
    if ci_provider == "none" or not _local(framework, torch_index_url):
        return ""
    return (
        f"PyTorch comes from the local folder {torch_index_url}, which uv.lock records and "
        f"a {ci_provider} runner cannot see: every CI run would fail to install. Answer "
        "'none' (the README's checks run locally and on the cluster), or go back and give "
        "torch_index_url as a mirror URL the runners reach."
    )


def ci_commands(env_manager: str, torch_plan: torch_index.TorchPlan | None) -> Commands:
    """The commands for this env manager; `torch_plan` is the uv-side plan as written."""
    commands = COMMANDS[env_manager]
    if env_manager == "uv" and torch_plan is not None and torch_plan.extras:
        # Two PyTorch builds as extras (cpu_extra): a bare sync would install neither, and
        # the runners have no GPU.
        commands = dataclasses.replace(commands, install=f"{commands.install} --extra cpu")
    return commands


FILTERS = {"ci_provider_error": ci_provider_error}
GLOBALS = {"ci_provider_default": ci_provider_default}
