"""Regenerate extensions/data/import_names.json: the import names a generated project uses.

    uv run python -m tools.import_names            # rewrite the table (needs PyPI)
    uv run python -m tools.import_names --check    # exit 1 when the table is out of date

The `package_name` question refuses a name that would shadow a module the generated project
imports or runs. It is asked before the framework, without network, so the names come from
this committed table. To build it, the tool writes a scratch project with every dependency
a generated project can have (extensions/requirements.py's base and dev dependencies, torch
and its companions from extensions/torch_releases.py, the run settings, trackers and notebook
tools of extensions/research.py), locks it with uv for every platform
and every offered Python (torch from PyPI, whose Linux wheels are the CUDA build, so the
NVIDIA libraries and Triton are in the lock), and reads the file list of one wheel of every
locked package (the zip's central directory, with HTTP range requests: a few kB per wheel,
not the wheel). Top-level modules and packages are what a package name could shadow. The
standard library's module names come from each offered Python found on this machine.

tests/test_import_names.py compares the table with the locks of real generated projects
and with what their environments really installed, so a new dependency fails a test that
names this command.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import tomllib
import urllib.request
import zipfile
from pathlib import Path

from packaging.utils import canonicalize_name

from extensions import compat, cuda, import_names, requirements, research, torch_releases

# Packages no index reachable from here serves (PyTorch's ROCm index): their import names,
# from the packages themselves (ROCm's Triton installs the module `triton`).
UNREACHABLE: dict[str, list[str]] = {
    canonicalize_name(name): ["triton"] for build in cuda.BUILDS for name in build.companions
}


class RangeReader(io.RawIOBase):
    """A read-only, seekable view of a remote file, fetched with HTTP range requests."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.position = 0
        request = urllib.request.Request(url, method="HEAD")
        with urllib.request.urlopen(request, timeout=60) as response:
            self.size = int(response.headers["Content-Length"])

    def seekable(self) -> bool:
        return True

    def readable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self.position, io.SEEK_END: self.size}[whence]
        self.position = base + offset
        return self.position

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        end = min(self.position + len(buffer), self.size) - 1
        if end < self.position:
            return 0
        request = urllib.request.Request(
            self.url, headers={"Range": f"bytes={self.position}-{end}"}
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            data = response.read()
        buffer[: len(data)] = data
        self.position += len(data)
        return len(data)


def top_level_names(paths: list[str]) -> set[str]:
    """Importable top-level names of a wheel's files (`numpy/...`, `six.py`, `_x.cpython-*.so`)."""
    names: set[str] = set()
    for path in paths:
        first = path.split("/", 1)[0]
        if first.endswith((".dist-info", ".data")):
            continue
        if "/" not in path:  # a module file at the top
            first = first.split(".", 1)[0] if first.endswith((".py", ".so", ".pyd")) else ""
        if first.isidentifier():
            names.add(first)
    return names


def wheel_names(url: str) -> set[str]:
    with zipfile.ZipFile(io.BufferedReader(RangeReader(url), buffer_size=1 << 16)) as wheel:
        return top_level_names(wheel.namelist())


def scratch_pyproject(python_range: tuple[str, str]) -> str:
    names = {
        *requirements.BASE_DEPENDENCIES["pytorch"],
        *requirements.BASE_DEPENDENCIES["none"],
        *requirements.DEV_DEPENDENCIES,
        *torch_releases.COMPANIONS,
        *research.RUN_DEPENDENCIES,
        *research.NOTEBOOK_DEV_DEPENDENCIES,
        *(name for tracker in research.TRACKERS.values() for name in tracker.dependencies),
    }
    listed = ", ".join(json.dumps(name) for name in sorted(names))
    low, high = python_range
    return (
        "[project]\n"
        'name = "import-names-scratch"\n'
        'version = "0"\n'
        f'requires-python = ">={low},<{high.split(".")[0]}.{int(high.split(".")[1]) + 1}"\n'
        f"dependencies = [{listed}]\n"
    )


def locked_wheels(folder: Path) -> dict[str, list[str]]:
    """Every package of the scratch lock and the URLs of its wheels."""
    lock = tomllib.loads((folder / "uv.lock").read_text())
    packages: dict[str, list[str]] = {}
    for package in lock["package"]:
        name = canonicalize_name(package["name"])
        if name == "import-names-scratch":
            continue
        urls = [wheel["url"] for wheel in package.get("wheels", [])]
        packages.setdefault(name, []).extend(urls)
    return packages


def stdlib_names() -> tuple[list[str], list[str]]:
    """The standard library's modules of every offered Python found here, and those found."""
    low, high = compat.PYTHONS[0], compat.PYTHONS[-1]
    names: set[str] = set(sys.stdlib_module_names)
    found: list[str] = []
    for minor in range(int(low.split(".")[1]), int(high.split(".")[1]) + 1):
        version = f"3.{minor}"
        python = shutil.which(f"python{version}")
        if python is None:
            continue
        result = subprocess.run(
            [python, "-c", "import sys; print(*sorted(sys.stdlib_module_names))"],
            capture_output=True,
            text=True,
            check=False,
            env={**os.environ, "PYENV_VERSION": version},  # pyenv's shims pick that Python
        )
        if result.returncode == 0:
            names.update(result.stdout.split())
            found.append(version)
    return sorted(names), found


def build_table() -> dict[str, object]:
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        (folder / "pyproject.toml").write_text(
            scratch_pyproject((compat.PYTHONS[0], compat.PYTHONS[-1]))
        )
        subprocess.run(["uv", "lock", "--quiet"], cwd=folder, check=True)
        packages = locked_wheels(folder)
    distributions: dict[str, list[str]] = {}
    for name, urls in sorted(packages.items()):
        print(f"    {name}", file=sys.stderr, flush=True)
        wheel = next((u for u in urls if "manylinux" in u or "none-any" in u), None)
        wheel = wheel or (urls[0] if urls else None)
        modules = wheel_names(wheel) if wheel else {name.replace("-", "_")}
        distributions[name] = sorted(modules)
    distributions.update(UNREACHABLE)
    stdlib, pythons = stdlib_names()
    return {
        "about": (
            "Generated by tools/import_names.py from a uv lock of every dependency a "
            "generated project can have, for every offered Python and platform; do not edit."
        ),
        "stdlib_pythons": pythons,
        "stdlib": stdlib,
        "distributions": dict(sorted(distributions.items())),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--check", action="store_true", help="compare, write nothing")
    args = parser.parse_args(argv)
    print("==> Locking every dependency a generated project can have (uv lock)", file=sys.stderr)
    table = build_table()
    text = json.dumps(table, indent=1, ensure_ascii=False) + "\n"
    if args.check:
        current = import_names.DATA.read_text(encoding="utf-8")
        if current != text:
            print(f"{import_names.DATA} is out of date: run python -m tools.import_names")
            return 1
        return 0
    import_names.DATA.write_text(text, encoding="utf-8")
    count = len(table["distributions"])  # type: ignore[arg-type]
    print(f"==> Wrote {import_names.DATA} ({count} distributions)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
