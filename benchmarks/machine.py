"""The machine and tool versions a result came from."""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any


def _first_line(command: list[str], env: dict[str, str]) -> str:
    try:
        result = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    except OSError:
        return "unavailable"
    return (result.stdout.strip() or result.stderr.strip()).splitlines()[0]


def cpu_model() -> str:
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def memory_gib() -> float | None:
    meminfo = Path("/proc/meminfo")
    if not meminfo.is_file():
        return None
    for line in meminfo.read_text().splitlines():
        if line.startswith("MemTotal:"):
            return round(int(line.split()[1]) / 2**20, 1)
    return None


def filesystem_type(path: Path) -> str:
    """The type of the filesystem holding `path`, from /proc/mounts (longest mount point)."""
    mounts = Path("/proc/mounts")
    if not mounts.is_file():
        return "unknown"
    best, kind = "", "unknown"
    resolved = str(path.resolve())
    for line in mounts.read_text().splitlines():
        fields = line.split()
        point = fields[1]
        inside = resolved == point or resolved.startswith(point.rstrip("/") + "/")
        if inside and len(point) > len(best):
            best, kind = point, fields[2]
    return kind


def load_average() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def directory_removal_ms(folder: Path, count: int = 100) -> float:
    """Milliseconds to remove one empty directory in `folder`. Copier removes its clones of
    the template and its scratch renders when it ends: a few hundred directories for each
    update. Where removal is slow (an ext4 volume mounted with `discard`, some network
    filesystems), that clean-up is a visible part of an update's time."""
    scratch = Path(tempfile.mkdtemp(prefix="rmdir-probe-", dir=folder))
    for number in range(count):
        (scratch / str(number)).mkdir()
    start = time.perf_counter()
    shutil.rmtree(scratch)
    return round((time.perf_counter() - start) * 1000 / (count + 1), 3)


def file_creation_ms(folder: Path, count: int = 200) -> float:
    """Milliseconds to create one empty file in `folder`. Copier clones the template for each
    render (two or three per update) and writes every file the repository tracks; where
    creating a file is slow, those clones are a visible part of the time."""
    scratch = Path(tempfile.mkdtemp(prefix="create-probe-", dir=folder))
    start = time.perf_counter()
    for number in range(count):
        (scratch / str(number)).touch()
    seconds = time.perf_counter() - start
    shutil.rmtree(scratch)
    return round(seconds * 1000 / count, 3)


def tracked_files(repository: Path) -> int:
    """How many files a clone of `repository` writes (git ls-files)."""
    listed = subprocess.run(
        ["git", "ls-files", "-z"], cwd=repository, capture_output=True, text=True, check=False
    )
    return len([name for name in listed.stdout.split("\0") if name])


def describe(workdir: Path, cache: Path, env: dict[str, str], copier: list[str]) -> dict[str, Any]:
    return {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "memory_gib": memory_gib(),
        "os": platform.platform(),
        "workdir_filesystem": filesystem_type(workdir),
        "uv_cache": str(cache),
        "uv_cache_filesystem": filesystem_type(cache),
        "uv": _first_line(["uv", "--version"], env),
        "copier": _first_line([*copier, "--version"], env),
        "git": _first_line(["git", "--version"], env),
        "directory_removal_ms": directory_removal_ms(workdir),
        "temp_directory_removal_ms": directory_removal_ms(Path(tempfile.gettempdir())),
        "file_creation_ms": file_creation_ms(workdir),
        "template_files": tracked_files(Path(__file__).resolve().parent.parent),
        "load_average_start": load_average(),
    }
