"""Where PyTorch wheels come from: the official index, a lab mirror, or a local folder."""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Sequence
from dataclasses import dataclass

from . import cuda, pytorch_facts, text, torch_releases, wheel_folder

DEFAULT_TORCH_INDEX_URL = "https://download.pytorch.org/whl"


@dataclass(frozen=True)
class TorchIndex:
    """One `[[tool.uv.index]]` entry of the generated pyproject."""

    name: str
    url: str
    flat: bool


def torch_index(base: str, accelerator: str) -> TorchIndex:
    """The index of one accelerator build: `<base>/<accelerator>`.

    A URL is a PEP 503 index (download.pytorch.org or a mirror). A local folder is a flat
    index: `<folder>/<accelerator>/*.whl` when laid out per build, else the folder itself
    (wheel_folder.py).
    """
    name = f"pytorch-{accelerator}"
    folder = wheel_folder.local_folder(base)
    if folder is None:
        return TorchIndex(name=name, url=f"{base.rstrip('/')}/{accelerator}", flat=False)
    if wheel_folder.layout(folder) == wheel_folder.FLAT:
        return TorchIndex(name=name, url=str(folder.resolve()), flat=True)
    return TorchIndex(name=name, url=str((folder / accelerator).resolve()), flat=True)


# Characters a URL may hold unescaped (RFC 3986); anything else must be %-encoded.
_URL = re.compile(r"[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]+")


def credential_variables(base: str, accelerator: str) -> list[str]:
    """uv's variables for the credentials of this project's PyTorch indexes.

    uv reads UV_INDEX_<NAME>_USERNAME and _PASSWORD, NAME being the index name uppercased
    with every other character made '_' (pytorch-cu130 -> PYTORCH_CU130).
    """
    builds = [accelerator] if accelerator == "cpu" else [accelerator, "cpu"]
    names = [re.sub(r"[^A-Z0-9]", "_", torch_index(base, b).name.upper()) for b in builds]
    return [f"UV_INDEX_{name}_{part}" for name in names for part in ("USERNAME", "PASSWORD")]


def mirror_credential_variables(base: str, accelerator: str) -> list[str]:
    """The credential variables worth documenting: those of a mirror (an http(s) URL)."""
    if base == DEFAULT_TORCH_INDEX_URL or not base.startswith(("http://", "https://")):
        return []
    return credential_variables(base, accelerator)


def index_url_error(base: str, accelerator: str) -> str:
    if problem := text.text_error("torch_index_url", base):
        return problem
    if not base.strip():
        return (
            f"The index URL is empty. Use {DEFAULT_TORCH_INDEX_URL}, a mirror, or a local folder."
        )
    if base.startswith(("http://", "https://")):
        return _url_error(base, accelerator)
    if "://" in base and not base.startswith("file://"):
        return f"'{base}' is neither an http(s) URL nor a local folder."
    folder = wheel_folder.local_folder(base)
    assert folder is not None
    if not folder.is_absolute():
        return f"'{base}' is a relative path. Give the folder as an absolute path."
    found = wheel_folder.read(base)
    layouts = (
        "A local index holds PyTorch's wheels flat (<folder>/torch-*.whl) or per build "
        "(<folder>/<build>/torch-*.whl)"
    )
    if found is None or not found.builds():
        held = f" Its wheels belong to no build offered: {found.contents()}." if found else ""
        return f"The folder {folder} holds no wheels of torch.{held} {layouts}."
    if accelerator not in found.builds():
        where = found.index_path(accelerator)
        return (
            f"The folder {folder} holds no torch wheel of the {accelerator} build (it holds "
            f"{found.contents()}). Put them in {where}, or go back and choose another "
            f"accelerator. {layouts}; a flat folder's wheels are told apart by their local "
            "label (+cpu, +cu130)."
        )
    return ""


def _url_error(base: str, accelerator: str) -> str:
    try:
        parts = urllib.parse.urlsplit(base)
    except ValueError as error:  # e.g. an unclosed [IPv6] host
        return f"'{base}' is not a URL ({error})."
    if parts.username is not None or parts.password is not None:
        plain = urllib.parse.urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))
        variables = credential_variables(plain, accelerator)
        return (
            "The URL holds credentials, which would be written to pyproject.toml, the README "
            f"and .copier-answers.yml, all committed. Answer {plain} and put the credentials "
            f"in .env (git-ignored), where the set-up passes them to uv: "
            f"{', '.join(variables)}."
        )
    if not _URL.fullmatch(base):
        bad = next(char for char in base if not _URL.fullmatch(char))
        return (
            f"'{base}' holds {bad!r}, which a URL cannot hold as it is. Percent-encode it "
            f"(e.g. a space as %20)."
        )
    if not parts.hostname:
        return f"'{base}' names no host. Write it as https://host/path/to/whl."
    if parts.query or parts.fragment:
        return (
            f"'{base}' has a query or fragment ('?' or '#'); a package index is a plain path "
            f"under which each build is a folder (<base>/{accelerator})."
        )
    return ""


# ── Routing: which index serves torch (and its companions) on which platform ────────────


@dataclass(frozen=True)
class Source:
    """One entry of a package's `[tool.uv.sources]` list."""

    index: str
    marker: str | None = None
    extra: str | None = None


@dataclass(frozen=True)
class TorchPlan:
    """Everything the generated pyproject says about PyTorch.

    `dependencies` go to `[project].dependencies`; with two builds, `extras` hold them
    instead (one `[project.optional-dependencies]` table each, declared in conflict). Every
    requirement is bare: the release lines are `constraints` (`[tool.uv]
    constraint-dependencies`), and the set-up pins the versions the lock chose.
    """

    indexes: tuple[TorchIndex, ...]
    sources: dict[str, tuple[Source, ...]]
    dependencies: tuple[str, ...]
    extras: dict[str, tuple[str, ...]]
    constraints: tuple[str, ...]
    environments: tuple[str, ...]  # the platforms the lock covers, as markers
    line: str  # the torch release line, "2.14"

    @property
    def conflicts(self) -> tuple[str, ...]:
        return tuple(self.extras)


def platforms_marker(names: Sequence[str], among: Sequence[str] | None = None) -> str:
    """A marker selecting these platforms among the project's (`linux-x86_64`, ...).

    `among`: the platforms the project targets (every platform when None); the lock covers
    only those (`[tool.uv] environments`), so a marker need only tell them apart. An
    operating system whose targeted platforms are all selected reads as
    `sys_platform == 'linux'`; a part of one names the machine too.
    """
    targets = [p for p in pytorch_facts.PLATFORMS if among is None or p.name in among]
    chosen = [p for p in targets if p.name in names]
    parts: list[str] = []
    for system in dict.fromkeys(p.sys_platform for p in chosen):
        of_system = [p for p in targets if p.sys_platform == system]
        if all(p in chosen for p in of_system):
            parts.append(f"sys_platform == '{system}'")
        else:
            parts += [
                f"({p.marker})" if len(chosen) > 1 else p.marker for p in chosen if p in of_system
            ]
    return " or ".join(parts)


# The platforms the README's recipes add the packages built on PyTorch for: those with wheels
# (flash-attn builds on Linux only), xformers held to Linux x86_64 as the recipe is tested.
RECIPE_PLATFORMS: dict[str, tuple[str, ...]] = {
    "xformers": ("linux-x86_64",),
    "vllm": ("linux-x86_64", "linux-aarch64"),
    "flash-attn": ("linux-x86_64", "linux-aarch64"),
}


def requirement_marker(platforms: Sequence[str], targets: Sequence[str]) -> str:
    """`; <marker>` that adds a package made for `platforms` only to a lock for `targets`
    (the `platforms` answer); empty when the package serves every target."""
    served = [name for name in targets if name in platforms]
    if len(served) == len(targets):
        return ""
    return "; " + (platforms_marker(served, targets) if served else platforms_marker(platforms))


def recipe_markers(targets: Sequence[str]) -> dict[str, str]:
    """Each recipe package's marker for a lock made for `targets`."""
    return {
        name: requirement_marker(made_for, targets) for name, made_for in RECIPE_PLATFORMS.items()
    }


def torch_plan(base: str, choice: torch_releases.TorchChoice) -> TorchPlan:
    """Route torch and its companions, per platform, to the indexes the choice names.

    Every package routed to an index also gets a source, because an explicit index without
    a source is never used (uv#12774). A build's own packages (ROCm's Triton) are direct
    dependencies on the platforms the build serves, from the same index.
    """
    names = ("torch", *choice.companions)
    used = dict.fromkeys(index for v in choice.variants for index in v.routes.values())
    indexes = {name: torch_index(base, name) for name in used}
    sources: dict[str, list[Source]] = {}
    requirements: dict[str | None, list[str]] = {}
    for variant in choice.variants:
        listed = requirements.setdefault(variant.extra, list(names))
        for index in dict.fromkeys(variant.routes.values()):
            platforms = variant.platforms_of(index)
            whole = len(platforms) == len(variant.routes)
            marker = None if whole else platforms_marker(platforms, tuple(variant.routes))
            source = Source(indexes[index].name, marker=marker, extra=variant.extra)
            for name in names:
                sources.setdefault(name, []).append(source)
            for companion in cuda.BUILDS_BY_NAME[index].companions:
                listed.append(f"{companion}; {marker}" if marker else companion)
                sources.setdefault(companion, []).append(source)
    routed = requirements.pop(None, [])
    return TorchPlan(
        indexes=tuple(indexes.values()),
        sources={name: tuple(entries) for name, entries in sources.items()},
        dependencies=tuple(routed),
        extras={extra: tuple(items) for extra, items in requirements.items() if extra},
        constraints=choice.constraints,
        environments=tuple(
            p.marker for p in pytorch_facts.PLATFORMS if p.name in choice.variants[0].routes
        ),
        line=choice.line,
    )


FILTERS = {
    "index_url_error": index_url_error,
    "mirror_credential_variables": mirror_credential_variables,
}
