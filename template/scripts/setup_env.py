# /// script
# requires-python = ">=3.11"
# dependencies = ["tomlkit>=0.13", "packaging>=24", "python-dotenv>=1"]
# ///
"""Set up this project's environment: lock, pin direct dependencies to the lock, sync, check.

    uv run scripts/setup_env.py               # every step; safe to run again
    uv run scripts/setup_env.py --from sync   # resume from one step

Pinning writes `==<locked version>` for every direct dependency in pyproject.toml (project
dependencies, optional dependencies and dependency groups), so the file itself says which
versions the results were produced with; uv.lock then pins everything else.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import threading
import tomllib
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import tomlkit
from dotenv import dotenv_values
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

PROJECT = Path(__file__).resolve().parent.parent
RESUME = "uv run scripts/setup_env.py --from {step}"
OUTER_ENVIRONMENT = ("VIRTUAL_ENV", "UV_RUN_RECURSION_DEPTH")


class StepFailed(Exception):
    """A step failed; the message says why and what to try."""


# ── Pinning ────────────────────────────────────────────────────────────────


def locked_versions(lock_text: str) -> dict[str, set[str]]:
    """Every version of every package in a uv.lock, by canonical name."""
    versions: dict[str, set[str]] = defaultdict(set)
    for package in tomllib.loads(lock_text).get("package", []):
        if "version" in package:
            versions[canonicalize_name(package["name"])].add(package["version"])
    return versions


def pinned(requirement: str, locked: dict[str, set[str]]) -> str:
    """`requirement` with its specifier replaced by `==` the locked version.

    The local label is dropped (torch 2.13.0+cpu is pinned as ==2.13.0, which PEP 440
    matches with the +cpu and plain builds alike), so one pin serves every platform.
    """
    parsed = Requirement(requirement)
    if parsed.url:
        return requirement
    versions = {Version(v).public for v in locked.get(canonicalize_name(parsed.name), ())}
    if not versions:
        return requirement  # not installed on any platform the lock covers
    if len(versions) > 1:
        raise StepFailed(
            f"{parsed.name} is locked at several versions ({', '.join(sorted(versions))}), "
            "so one == pin cannot match them all. Constrain it in pyproject.toml "
            "(e.g. with a marker per platform) and run this script again."
        )
    extras = f"[{','.join(sorted(parsed.extras))}]" if parsed.extras else ""
    marker = f"; {parsed.marker}" if parsed.marker else ""
    return f"{parsed.name}{extras}=={versions.pop()}{marker}"


def _pin_array(array: Iterable[object], locked: dict[str, set[str]]) -> None:
    items = list(array)
    for index, item in enumerate(items):
        if isinstance(item, str):  # not {include-group = "..."}
            array[index] = pinned(item, locked)  # type: ignore[index]


def pin_pyproject(pyproject_text: str, lock_text: str) -> str:
    """pyproject.toml with every direct dependency pinned to uv.lock, formatting kept."""
    locked = locked_versions(lock_text)
    document = tomlkit.parse(pyproject_text)
    project = document.get("project", {})
    _pin_array(project.get("dependencies", []), locked)
    for extra in project.get("optional-dependencies", {}).values():
        _pin_array(extra, locked)
    for group in document.get("dependency-groups", {}).values():
        _pin_array(group, locked)
    return str(tomlkit.dumps(document))


# ── Steps ──────────────────────────────────────────────────────────────────


def uv_environment() -> dict[str, str]:
    """The environment uv runs in: uv's own settings from .env, then this process's, which win.

    uv reads no .env itself; a setting such as UV_CACHE_DIR (the cache on the project's file
    system, on a cluster) written there still applies to the set-up. What points uv at this
    script's own environment is left out.
    """
    settings = dotenv_values(PROJECT / ".env") if (PROJECT / ".env").is_file() else {}
    from_file = {k: v for k, v in settings.items() if k.startswith("UV_") and v}
    return from_file | {k: v for k, v in os.environ.items() if k not in OUTER_ENVIRONMENT}


def run(command: list[str]) -> None:
    """Run a command, streaming its output; on failure raise with the end of its stderr."""
    env = uv_environment()
    process = subprocess.Popen(command, cwd=PROJECT, env=env, stderr=subprocess.PIPE, text=True)
    tail: list[str] = []

    def relay() -> None:
        assert process.stderr is not None
        for line in process.stderr:
            sys.stderr.write(line)
            tail[:] = [*tail[-7:], line.rstrip()]

    reader = threading.Thread(target=relay)
    reader.start()
    code = process.wait()
    reader.join()
    if code != 0:
        error = "\n".join(f"    {line}" for line in tail) or "    (no output)"
        shown = " ".join([Path(command[0]).name, *command[1:]])
        raise StepFailed(f"'{shown}' exited with {code}:\n{error}")


def uv() -> str:
    path = shutil.which("uv")
    if path is None:
        raise StepFailed("uv is not on PATH. Install it: https://docs.astral.sh/uv/")
    return path


def create_env_file() -> None:
    env_file, example = PROJECT / ".env", PROJECT / ".env.example"
    if env_file.exists():
        print("    .env exists: kept as it is.")
    elif example.exists():
        shutil.copyfile(example, env_file)
        print("    created .env from .env.example (git-ignored; edit it for this machine).")


def lock() -> None:
    run([uv(), "lock"])


def pin() -> None:
    pyproject = PROJECT / "pyproject.toml"
    before = pyproject.read_text(encoding="utf-8")
    after = pin_pyproject(before, (PROJECT / "uv.lock").read_text(encoding="utf-8"))
    if after == before:
        print("    every direct dependency already equals the lock.")
        return
    pyproject.write_text(after, encoding="utf-8")
    record_pins()


def record_pins() -> None:
    """Lock again so uv.lock records the pins; the versions are the ones just locked.

    Online, always: `uv lock --offline` after the pins were written was seen folding one
    platform's torch wheel into another platform's fork (uv 0.13), depending on the cache.
    """
    run([uv(), "lock"])


def torch_extras(pyproject_text: str) -> list[str]:
    """The extras declared in conflict in [tool.uv] (the cpu/<GPU build> pair), if any."""
    conflicts = tomllib.loads(pyproject_text).get("tool", {}).get("uv", {}).get("conflicts", [])
    return [item["extra"] for group in conflicts for item in group if "extra" in item]


def gpu_present() -> bool:
    """A GPU driver is installed: NVIDIA's kernel module, or AMD's compute device."""
    return any(Path(p).exists() for p in ("/proc/driver/nvidia/version", "/dev/kfd"))


def choose_extra(extras: list[str], requested: str) -> str:
    """TORCH_EXTRA when set, else the GPU build on a machine with a GPU driver, else cpu."""
    if requested:
        if requested not in extras:
            raise StepFailed(
                f"TORCH_EXTRA={requested} is not one of this project's builds "
                f"({', '.join(extras)}). Fix it in .env."
            )
        return requested
    gpu_builds = [extra for extra in extras if extra != "cpu"]
    return gpu_builds[0] if gpu_present() and gpu_builds else "cpu"


def sync() -> None:
    extras = torch_extras((PROJECT / "pyproject.toml").read_text(encoding="utf-8"))
    if not extras:
        run([uv(), "sync", "--locked"])
        return
    requested = os.environ.get("TORCH_EXTRA") or dotenv_values(PROJECT / ".env").get("TORCH_EXTRA")
    extra = choose_extra(extras, requested or "")
    if requested:
        why = "TORCH_EXTRA"
    else:
        why = "a GPU driver is present" if extra != "cpu" else "no GPU driver found"
    print(f"    PyTorch build: extra '{extra}' ({why}; TORCH_EXTRA in .env chooses).")
    run([uv(), "sync", "--locked", "--extra", extra])


def check() -> None:
    run([uv(), "run", "--locked", "scripts/smoke_test.py", "--quick"])


@dataclass(frozen=True)
class Step:
    name: str
    title: str
    action: Callable[[], None]
    hint: str


STEPS = (
    Step(
        "env",
        "Creating .env from .env.example",
        create_env_file,
        "Check the folder's permissions.",
    ),
    Step(
        "lock",
        "Resolving and locking dependencies (uv lock)",
        lock,
        "Check the network and the package indexes in pyproject.toml ([[tool.uv.index]]); "
        "a resolver conflict names the requirements to relax.",
    ),
    Step(
        "pin",
        "Pinning direct dependencies to uv.lock (pyproject.toml)",
        pin,
        "Fix the requirement named above in pyproject.toml.",
    ),
    Step(
        "sync",
        "Installing the locked environment (uv sync --locked)",
        sync,
        "Check the network and free disk space; UV_CACHE_DIR may point to a bigger disk.",
    ),
    Step(
        "check",
        "Checking the environment (scripts/smoke_test.py --quick)",
        check,
        "Run 'uv run scripts/smoke_test.py' for the full report.",
    ),
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--from", dest="start", choices=[s.name for s in STEPS], default="env")
    args = parser.parse_args(argv)
    names = [s.name for s in STEPS]
    todo = STEPS[names.index(args.start) :]
    for number, step in enumerate(todo, start=1):
        print(f"==> [{number}/{len(todo)}] {step.title}", flush=True)
        try:
            step.action()
        except (StepFailed, OSError) as error:
            print(f"\n!!  Set-up failed at step '{step.name}': {error}", file=sys.stderr)
            print(f"    What to try: {step.hint}", file=sys.stderr)
            print(f"    Then resume with: {RESUME.format(step=step.name)}", file=sys.stderr)
            return 1
    print("==> Environment ready: uv run pytest runs the tests.", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
