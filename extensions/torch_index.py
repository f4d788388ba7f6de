"""Where PyTorch wheels come from: the official index, a lab mirror, or a local folder."""

from __future__ import annotations

import os
import re
import urllib.parse
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from . import cuda, text

DEFAULT_TORCH_INDEX_URL = "https://download.pytorch.org/whl"


@dataclass(frozen=True)
class TorchIndex:
    """One `[[tool.uv.index]]` entry of the generated pyproject."""

    name: str
    url: str
    flat: bool


def _local_folder(base: str) -> Path | None:
    if base.startswith("file://"):
        return Path(base.removeprefix("file://"))
    if "://" in base:
        return None
    return Path(os.path.expanduser(base))


def torch_index(base: str, accelerator: str) -> TorchIndex:
    """The index of one accelerator build: `<base>/<accelerator>`.

    A URL is a PEP 503 index (download.pytorch.org or a mirror); a local folder holds the
    wheels flat, `<folder>/<accelerator>/*.whl`.
    """
    name = f"pytorch-{accelerator}"
    folder = _local_folder(base)
    if folder is None:
        return TorchIndex(name=name, url=f"{base.rstrip('/')}/{accelerator}", flat=False)
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
    folder = _local_folder(base)
    assert folder is not None
    if not folder.is_absolute():
        return f"'{base}' is a relative path. Give the folder as an absolute path."
    needed = [accelerator] if accelerator == "cpu" else [accelerator, "cpu"]
    for build in needed:
        wheels = folder / build
        if not wheels.is_dir() or not any(wheels.glob("*.whl")):
            return (
                f"The folder {wheels} holds no wheels. A local index needs the wheels of each "
                f"build it serves under <folder>/<build>/ (here {', '.join(needed)}), "
                f"e.g. {wheels}/torch-*.whl."
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

    `dependencies` go to `[project].dependencies`; with extras, `extras` hold the builds
    instead (one `[project.optional-dependencies]` table each, declared in conflict).
    """

    indexes: tuple[TorchIndex, ...]
    sources: dict[str, tuple[Source, ...]]
    dependencies: tuple[str, ...]
    extras: dict[str, tuple[str, ...]]

    @property
    def conflicts(self) -> tuple[str, ...]:
        return tuple(self.extras)


def platform_marker(platforms: tuple[str, ...], *, negate: bool = False) -> str:
    """`sys_platform == 'linux' or sys_platform == 'win32'`, or its negation."""
    if negate:
        return " and ".join(f"sys_platform != '{platform}'" for platform in platforms)
    return " or ".join(f"sys_platform == '{platform}'" for platform in platforms)


def extra_name(build: str) -> str:
    """The extra named after a build, normalised as PEP 685 does (`rocm7.2` -> `rocm7-2`)."""
    return canonicalize_name(build)


def torch_plan(
    base: str,
    accelerator: str,
    packages: Sequence[str] = (),
    *,
    cpu_extra: bool = False,
    torch_requirement: str = "torch",
) -> TorchPlan:
    """Route torch and `packages` (torchvision, torchaudio) to the accelerator's index.

    A GPU build has wheels for some platforms only, so its index serves those (CUDA: Linux
    and Windows; ROCm: Linux) and the CPU index serves the rest (macOS, with MPS on Apple
    silicon): one uv.lock covers the cluster and the laptop. Every package that uses an
    index also gets a source, because an explicit index without a source is never used
    (uv#12774). With `cpu_extra`, the CPU build and the GPU build become two conflicting
    extras instead, chosen with `uv sync --extra cpu` or `--extra <build>`.
    """
    build = cuda.BUILDS_BY_NAME[accelerator]
    cpu = cuda.BUILDS_BY_NAME["cpu"]
    torch_packages = (torch_requirement, *packages)
    names = tuple(Requirement(item).name for item in torch_packages)
    build_index = torch_index(base, build.name)
    if not build.is_gpu:
        source = (Source(build_index.name),)
        return TorchPlan((build_index,), dict.fromkeys(names, source), torch_packages, {})

    cpu_index = torch_index(base, cpu.name)
    on_gpu_platforms = platform_marker(build.platforms)
    companions = tuple(f"{name}; {on_gpu_platforms}" for name in build.companions)
    companion_sources = dict.fromkeys(
        build.companions, (Source(build_index.name, marker=on_gpu_platforms),)
    )
    indexes = (build_index, cpu_index)
    if cpu_extra:
        gpu_extra = extra_name(build.name)
        sources = dict.fromkeys(
            names, (Source(cpu_index.name, extra="cpu"), Source(build_index.name, extra=gpu_extra))
        )
        extras = {"cpu": torch_packages, gpu_extra: (*torch_packages, *companions)}
        return TorchPlan(indexes, {**sources, **companion_sources}, (), extras)
    sources = dict.fromkeys(
        names,
        (
            Source(build_index.name, marker=on_gpu_platforms),
            Source(cpu_index.name, marker=platform_marker(build.platforms, negate=True)),
        ),
    )
    return TorchPlan(indexes, {**sources, **companion_sources}, (*torch_packages, *companions), {})
