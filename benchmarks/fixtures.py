"""What the test suite and the benchmark both set up: the local torch index, a released template.

Plain functions (no pytest), so `tests/` and `benchmarks/` share one implementation.
"""

from __future__ import annotations

import configparser
import io
import os
import re
import shutil
import subprocess
import tarfile
import urllib.request
from pathlib import Path

TEMPLATE = Path(__file__).resolve().parent.parent
RELEASES = ("v0.1.0", "v0.2.0", "v0.3.0")
V2_README_LINE = "Added in v0.2.0."  # v0.2.0 changes the README only: no dependency changes
V3_DEPENDENCY = "tqdm"  # v0.3.0 adds a dependency: the update re-locks
# Commits in throwaway clones must not depend on the machine's git configuration.
GIT_IDENTITY = ("-c", "user.name=copier-research", "-c", "user.email=tests@example.org")


# The one real PyTorch wheel the suite installs: the CPU build, for the suite's Python.
TORCH_WHEEL = "torch-2.13.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl"
TORCH_WHEEL_URL = "https://download.pytorch.org/whl/cpu/" + TORCH_WHEEL.replace("+", "%2B")
TORCH_WHEEL_ENV = "COPIER_RESEARCH_TORCH_WHEEL"
MISSING_TORCH_WHEEL = (
    f"no CPU torch wheel: the tests that install PyTorch need {TORCH_WHEEL}. Put it in a "
    f"folder that pip's find-links names (PIP_FIND_LINKS or pip.conf), or set {TORCH_WHEEL_ENV} "
    f"to its path; where download.pytorch.org is reachable the suite downloads it itself "
    f"({TORCH_WHEEL_URL})."
)


def find_torch_wheel(download_to: Path, home: Path | None = None) -> Path | None:
    """The real CPU build of torch: given, in pip's find-links folder(s), or downloaded.

    Looked for in that order: the path in $COPIER_RESEARCH_TORCH_WHEEL, pip's find-links
    folders (pip.conf read from `home`, the user's by default), a copy downloaded earlier into
    `download_to`, and PyTorch's CPU index (when it can be reached), downloaded into
    `download_to`: a folder the caller owns (the test session's or the benchmark's), never one
    of the user's.
    """
    given = os.environ.get(TORCH_WHEEL_ENV)
    if given and Path(given).is_file():
        return Path(given)
    home = home or Path.home()
    folders = os.environ.get("PIP_FIND_LINKS", "").split()
    parser = configparser.ConfigParser()
    parser.read(["/etc/pip.conf", home / ".config/pip/pip.conf", home / ".pip/pip.conf"])
    for section in parser.sections():
        folders += parser.get(section, "find-links", fallback="").split()
    for folder in folders:
        wheel = Path(folder.removeprefix("file://")) / TORCH_WHEEL
        if wheel.is_file():
            return wheel
    return download_torch_wheel(download_to)


def download_torch_wheel(folder: Path) -> Path | None:
    """PyTorch's CPU wheel, downloaded once into `folder`; None when unreachable.

    Safe for several processes at once (the test workers): each writes a file of its own and
    renames it into place.
    """
    wheel = folder / TORCH_WHEEL
    if wheel.is_file():
        return wheel
    partial = folder / f"{TORCH_WHEEL}.{os.getpid()}.part"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with (
            urllib.request.urlopen(TORCH_WHEEL_URL, timeout=10) as response,
            partial.open("wb") as out,
        ):
            shutil.copyfileobj(response, out)
    except OSError:
        partial.unlink(missing_ok=True)
        return None
    partial.replace(wheel)
    return wheel


def torch_replica(folder: Path, wheel: Path) -> Path:
    """The tests' replica of PyTorch's indexes as folders, `<folder>/<build>/*.whl`: the real
    CPU `wheel` (linked) beside STAND-IN wheels for the other platforms and releases, which a
    project's lock for every platform needs (tests/replica.py)."""
    from tests import replica  # the tests' module: one replica for tests and benchmarks

    if not (folder / "cpu" / wheel.name).exists():
        replica.build_flat(folder, wheel)
    return folder


def release_line(wheel: Path) -> str:
    """The torch release line of a wheel: `2.13` for torch-2.13.0+cpu-...whl."""
    version = wheel.name.split("-")[1]
    return ".".join(version.split(".")[:2])


def git(*args: str, cwd: Path) -> str:
    """Run git in `cwd`; a failure raises with git's own message."""
    result = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)} failed in {cwd}: {result.stderr.strip()}")
    return result.stdout


def template_clone(destination: Path, source: Path = TEMPLATE, commit: str | None = None) -> Path:
    """A git repository holding the template's working tree, uncommitted changes included.

    With `commit`, it holds that commit's tree instead. Releases are made with `release()`;
    the template's own repository is never tagged.
    """
    destination.mkdir(parents=True, exist_ok=True)
    if commit is not None:
        archive = subprocess.run(
            ["git", "archive", commit], cwd=source, check=True, capture_output=True
        ).stdout
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            tar.extractall(destination, filter="data")
    else:
        listed = git("ls-files", "--cached", "--others", "--exclude-standard", cwd=source)
        for name in listed.splitlines():
            if (source / name).is_file():
                (destination / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source / name, destination / name)
    git("init", "-q", cwd=destination)
    return destination


def release(clone: Path, tag: str) -> None:
    """Commit everything in a template clone and tag the commit as release `tag`.

    The objects are then packed, as in a clone from a git host: Copier clones the template
    for each render (three times for an update) and removes the clone when it ends, and
    loose objects would make each clone a few hundred folders more to create and remove."""
    git("add", "-A", cwd=clone)
    git(*GIT_IDENTITY, "commit", "-q", "--allow-empty", "-m", f"Release {tag}", cwd=clone)
    git("tag", tag, cwd=clone)
    git("repack", "-a", "-d", "-q", cwd=clone)
    git("prune-packed", cwd=clone)


def add_base_dependency(clone: Path, name: str) -> None:
    """Make `name` a dependency of every project the template clone generates."""
    plan = clone / "extensions" / "requirements.py"
    text, count = re.subn(
        r'^(    "(?:pytorch|none)": \()', rf'\1"{name}", ', plan.read_text(), flags=re.M
    )
    if count != 2:
        raise RuntimeError(f"{plan}: BASE_DEPENDENCIES not found; adapt add_base_dependency")
    plan.write_text(text)


def tagged_template(destination: Path, commit: str | None = None) -> Path:
    """A template clone with three releases: v0.1.0; v0.2.0, a line added to the README (an
    update that changes no dependency); v0.3.0, a dependency added (an update that re-locks)."""
    clone = template_clone(destination, commit=commit)
    release(clone, RELEASES[0])
    readme = clone / "template" / "README.md.jinja"
    readme.write_text(readme.read_text() + f"\n{V2_README_LINE}\n")
    release(clone, RELEASES[1])
    add_base_dependency(clone, V3_DEPENDENCY)
    release(clone, RELEASES[2])
    return clone
