"""The `platforms` question: which platforms the lock is made for, and its default.

The lock (`[tool.uv] environments` and `required-environments`), PyTorch's routing, the
set-up's per-platform check, pixi's platforms and every document of the project follow the
answer: a list of names of `pytorch_facts.PLATFORMS`, the one table of platforms.

The default fits where the project will run, in this order:

1. a project that is already there keeps what its pyproject.toml targets (`copier update`
   of a project generated before the question existed: its lock covered every platform,
   with or without `required-environments`, unless someone narrowed them by hand, which is
   kept too);
2. otherwise this machine's platform (where the researcher works) and Linux x86_64 (where
   clusters and CI runners are), so that Linux-only packages (triton, cupy, vllm) can be
   added, while Windows and Linux aarch64 are added by whoever needs them. A lab sets its
   own in its preset. `COPIER_RESEARCH_PLATFORM` names this machine's platform instead of
   probing it (the tests set it, so their default is the same on every machine);
3. narrowed to what pixi can target (`pixi.PLATFORMS`), and to the platforms a local wheel
   folder serves for the build and Python chosen (the question's help says so).
"""

from __future__ import annotations

import json
import os
import platform as host
import sys
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path

from packaging.markers import InvalidMarker, Marker

from . import cuda, pytorch_facts, torch_releases, wheel_folder
from .pixi import PIXI_PLATFORMS

THIS_PLATFORM_ENV = "COPIER_RESEARCH_PLATFORM"  # e.g. linux-x86_64; `none`: not one of them
CLUSTERS = "linux-x86_64"  # what clusters and hosted CI runners run
NAMES = tuple(p.name for p in pytorch_facts.PLATFORMS)
# Where each platform is found, for the question's choices.
WHERE = {
    "linux-x86_64": "most clusters, CI runners, workstations",
    "linux-aarch64": "Grace Hopper nodes, ARM servers",
    "windows-x86_64": "Windows PCs",
    "macos-arm64": "Apple-silicon Macs",
}
UPDATE_COMMAND = (
    "uvx --with copier-template-extensions copier update --trust --defaults "
    '-d "platforms=[{names}]"'
)


def _machine_name(system: str, machine: str) -> str | None:
    machine = machine.lower()
    if system.startswith("linux"):
        return {"x86_64": "linux-x86_64", "amd64": "linux-x86_64"}.get(machine) or (
            "linux-aarch64" if machine in ("aarch64", "arm64") else None
        )
    if system == "darwin":
        return "macos-arm64" if machine == "arm64" else None
    if system == "win32":
        return "windows-x86_64" if machine in ("amd64", "x86_64") else None
    return None


def this_platform(environ: Mapping[str, str] = os.environ) -> str | None:
    """This machine's platform (a name of the table), or None when it is none of them."""
    given = environ.get(THIS_PLATFORM_ENV, "").strip()
    if given:
        return given if given in NAMES else None
    return _machine_name(sys.platform, host.machine())


def platform_choices() -> str:
    """copier.yml choices (label -> name) as JSON, which copier parses as YAML."""
    return json.dumps({f"{p.name}: {WHERE[p.name]}": p.name for p in pytorch_facts.PLATFORMS})


def labels(names: Sequence[str]) -> str:
    """Platform names in words: "Linux x86_64, macOS arm64"."""
    return ", ".join(p.label for p in pytorch_facts.PLATFORMS if p.name in names)


def ordered(names: Sequence[str]) -> list[str]:
    return [name for name in NAMES if name in names]


def targeted_by(pyproject: Path) -> list[str] | None:
    """The platforms an existing pyproject.toml's lock targets: those its
    required-environments names, or every one when it names none (a lock made before the
    template wrote them covers every platform); None when there is no project there."""
    try:
        document = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return None
    if "project" not in document:
        return None
    written = document.get("tool", {}).get("uv", {}).get("required-environments")
    if written is None:
        return list(NAMES)
    if not isinstance(written, list) or not all(isinstance(item, str) for item in written):
        return None
    try:
        markers = [Marker(item) for item in written]
    except InvalidMarker:
        return None
    found = [
        p.name
        for p in pytorch_facts.PLATFORMS
        if any(
            m.evaluate({"sys_platform": p.sys_platform, "platform_machine": p.machine})
            for m in markers
        )
    ]
    return found or None


def served(folder: wheel_folder.Folder, accelerator: str, python: str | None) -> tuple[str, ...]:
    """The platforms a wheel folder serves torch on for this build: the build's own wheels
    where the build has wheels, the CPU build's elsewhere (as the routing sends them)."""
    build = cuda.BUILDS_BY_NAME.get(accelerator, cuda.BUILDS_BY_NAME["cpu"])
    own = folder.platforms(build.name, python)
    cpu = folder.platforms("cpu", python)
    return tuple(
        name for name in NAMES if (name in own if name in build.platforms else name in cpu)
    )


def _default(
    destination: str,
    framework: str,
    env_manager: str,
    accelerator: str,
    torch_index_url: str,
    python_version: str,
) -> tuple[list[str], list[str]]:
    """The default platforms, and why, sentence by sentence (for the help)."""
    kept = targeted_by(Path(destination) / "pyproject.toml") if destination else None
    why: list[str] = []
    if kept is not None:
        names = kept
        why.append(f"The project's pyproject.toml already targets {labels(names)}.")
    else:
        here = this_platform()
        names = ordered([CLUSTERS, *([here] if here else [])])
        if os.environ.get(THIS_PLATFORM_ENV, "").strip():
            why.append(f"{THIS_PLATFORM_ENV} names this machine's platform.")
        if here is None:
            why.append(f"This machine is none of these: proposing {labels(names)} (clusters).")
        elif here == CLUSTERS:
            why.append(f"This machine, clusters and CI runners: {labels(names)}.")
        else:
            why.append(f"This machine ({labels([here])}) and {labels([CLUSTERS])} (clusters, CI).")
    if env_manager == "pixi" and not set(names) <= set(PIXI_PLATFORMS):
        names = ordered([n for n in names if n in PIXI_PLATFORMS]) or [CLUSTERS]
        why.append(f"pixi projects target {labels(PIXI_PLATFORMS)} only.")
    folder = wheel_folder.read(torch_index_url) if framework == "pytorch" else None
    if folder is not None:
        serving = served(folder, accelerator, python_version)
        narrowed = ordered([n for n in names if n in serving]) or list(serving)
        if serving and narrowed != names:
            names = narrowed
            why.append(
                f"The wheel folder {folder.path} serves {labels(serving)} only "
                f"(Python {python_version}): the default is narrowed to {labels(names)}."
            )
    return names, why


def default_platforms(
    destination: object = "",
    framework: str = "pytorch",
    env_manager: str = "uv",
    accelerator: str = "cpu",
    torch_index_url: str = "",
    python_version: str = "",
) -> str:
    """The default answer, as the YAML list copier reads from a templated default."""
    names, _ = _default(
        str(destination or ""), framework, env_manager, accelerator, torch_index_url, python_version
    )
    return json.dumps(names)


def platforms_help(
    destination: object = "",
    framework: str = "pytorch",
    env_manager: str = "uv",
    accelerator: str = "cpu",
    torch_index_url: str = "",
    python_version: str = "",
) -> str:
    """What the default was made from, in words, for the question's help."""
    _, why = _default(
        str(destination or ""), framework, env_manager, accelerator, torch_index_url, python_version
    )
    return "Default: " + " ".join(why)


def platforms_error(
    platforms: object,
    framework: str = "pytorch",
    env_manager: str = "uv",
    accelerator: str = "cpu",
    torch_index_url: str = "",
    python_version: str = "",
) -> str:
    """Empty when the lock can be made for these platforms, else why not and what to choose."""
    names = ordered(_as_list(platforms))
    unknown = [str(n) for n in _as_list(platforms) if n not in NAMES]
    if unknown:
        return f"{', '.join(unknown)}: not a platform. Choose among {', '.join(NAMES)}."
    if not names:
        return (
            "No platform chosen: the lock is made for the platforms chosen here, so choose "
            f"at least one (space selects; {CLUSTERS} serves most clusters and CI runners)."
        )
    if env_manager == "pixi" and (beyond := [n for n in names if n not in PIXI_PLATFORMS]):
        return (
            f"The pixi variant targets {', '.join(PIXI_PLATFORMS)} only (pixi's linux-64 and "
            f"osx-arm64), not {', '.join(beyond)}. Leave {', '.join(beyond)} out, or choose "
            "env_manager 'uv'."
        )
    if framework != "pytorch":
        return ""
    build = accelerator if accelerator in cuda.BUILDS_BY_NAME else "cpu"
    if reason := torch_releases.serving_problem(build, names):
        return f"{reason}. {torch_releases.PLATFORMS_FIX}"
    folder = wheel_folder.read(torch_index_url)
    return _folder_problem(folder, build, names, python_version) if folder else ""


def _folder_problem(
    folder: wheel_folder.Folder, accelerator: str, names: list[str], python: str
) -> str:
    """Why a local wheel folder cannot serve these platforms, or ""."""
    serving = served(folder, accelerator, python or None)
    missing = [name for name in names if name not in serving]
    gpu = cuda.BUILDS_BY_NAME[accelerator]
    if missing:
        first = missing[0]
        build = accelerator if first in gpu.platforms else "cpu"
        for_python = f" and Python {python}" if python else ""
        keep = ordered([n for n in names if n in serving])
        fix = f"Choose {', '.join(keep)}" if keep else "Choose the platforms it serves"
        return (
            f"The wheel folder {folder.path} holds no torch wheel of the {build} build for "
            f"{labels([first])}{for_python} (it holds {folder.contents()}). {fix}, or add "
            f"those wheels to the folder."
        )
    if folder.layout == wheel_folder.FLAT:
        for name in names:
            target = pytorch_facts.platform_named(name)
            builds = sorted(
                {
                    w.index
                    for w in folder.wheels
                    if w.project == "torch" and target.accepts(w.platform)
                }
            )
            if len(builds) > 1:
                subfolders = ", ".join(f"{folder.path / b}/" for b in builds)
                return (
                    f"The flat wheel folder {folder.path} holds torch wheels of several builds "
                    f"for {target.label} ({', '.join(builds)}), which uv cannot tell apart in "
                    f"one flat index. Lay the folder out per build ({subfolders}), or keep "
                    "one build per platform in it."
                )
    return ""


def _as_list(platforms: object) -> list[str]:
    if platforms is None or platforms == "":
        return []
    if isinstance(platforms, str):
        return [platforms]
    if isinstance(platforms, (list, tuple)):
        return [str(name) for name in platforms]
    return [str(platforms)]


def update_command(names: Sequence[str]) -> str:
    """The command that changes a project's platforms later, e.g. to these."""
    return UPDATE_COMMAND.format(names=", ".join(ordered(names)))


def example_change(names: Sequence[str]) -> list[str]:
    """A change of these platforms worth showing: down to one when there are several, else
    one more (for the README's example command)."""
    chosen = ordered(names)
    if len(chosen) > 1:
        return [CLUSTERS] if CLUSTERS in chosen else chosen[:1]
    other = "macos-arm64" if chosen != ["macos-arm64"] else CLUSTERS
    return ordered([*chosen, other])


FILTERS = {"platforms_error": platforms_error}
GLOBALS = {
    "platform_choices": platform_choices,
    "default_platforms": default_platforms,
    "platforms_help": platforms_help,
}
