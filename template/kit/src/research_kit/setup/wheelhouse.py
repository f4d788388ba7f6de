# Template-owned: `copier update` replaces this file; edits of yours are merged in.
"""Wheelhouses, for clusters without internet.

    uv run scripts/setup_env.py wheelhouse DIR [--platform linux-x86_64] [--extra cu130]
    UV_OFFLINE=1 UV_FIND_LINKS=DIR uv run scripts/setup_env.py --wheelhouse DIR

The first, where there is network, writes into DIR every file uv.lock installs on the
project's platforms (or the ones named), checked against the lock's sha256, and what the
set-up needs to start (scripts/setup_env.py's dependencies, the build backend). The second,
on a node that reaches no index, installs the locked environment from DIR alone and checks it.
`uv sync` takes every file from the URL uv.lock records, and from nowhere else, so the
node installs the lock's export with `uv pip sync --no-index --find-links DIR` (the export
carries the lock's hashes, which uv checks); `uv sync --locked` then installs the project
itself and confirms that the environment is the lock's.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import shlex
import sys
import tarfile
import tempfile
import tomllib
import urllib.parse
import urllib.request
import zipfile
from collections import defaultdict
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from platform import machine as cpu_architecture
from typing import Any, BinaryIO

from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.tags import Tag, compatible_tags, cpython_tags, mac_platforms
from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename
from packaging.version import Version

from .commands import run
from .install import chosen_extra, torch_extras
from .platform_gaps import target_platforms
from .steps import (
    PROJECT,
    InvalidProject,
    Step,
    StepFailed,
    lock_text,
    platform_table,
    read_pyproject,
    run_steps,
    uv,
    uv_environment,
)

WHEELHOUSE_MANIFEST = "wheelhouse.json"
WHEELHOUSE_NOTE = "README.txt"
WHEELHOUSE_WRITE = "uv run scripts/setup_env.py wheelhouse {folder}"
WHEELHOUSE_USE = (
    "UV_OFFLINE=1 UV_FIND_LINKS={folder} uv run scripts/setup_env.py --wheelhouse {folder}"
)
_LEGACY_MANYLINUX = {17: "manylinux2014", 12: "manylinux2010", 5: "manylinux1"}


def platform_named(name: str) -> Any:
    """The record of kit/src/research_kit/platforms.py with this name (`linux-x86_64`)."""
    return next(p for p in platform_table() if p.name == name)


def platform_name(system: str, machine_name: str) -> str | None:
    """The name of the platform with this sys.platform and platform.machine(), if any."""
    table = platform_table()
    found = (p.name for p in table if (p.sys_platform, p.machine) == (system, machine_name))
    return next(found, None)


def project_platforms(pyproject_text: str) -> list[str]:
    """The names of the platforms in [tool.uv] required-environments."""
    return [platform.name for platform in target_platforms(pyproject_text)]


def project_python(pyproject_text: str) -> str:
    """The project's Python minor (`3.11`): .python-version, else requires-python."""
    pinned_file = PROJECT / ".python-version"
    text = pinned_file.read_text(encoding="utf-8") if pinned_file.is_file() else ""
    text = text or tomllib.loads(pyproject_text).get("project", {}).get("requires-python", "")
    found = re.search(r"(\d+)\.(\d+)", text)
    if found is None:
        raise StepFailed("The project's Python is unknown: write it in .python-version (`3.11`).")
    return f"{found[1]}.{found[2]}"


def supported_tags(platform: str, python: str) -> list[Tag]:
    """The wheel tags CPython `python` accepts on `platform`, the most specific first: for
    the glibc and macOS the per-platform check assumes (its uv platform and environment)."""
    record = platform_named(platform)
    arch = record.machine
    if record.sys_platform == "linux":
        glibc = re.search(r"manylinux_2_(\d+)", record.uv_python_platform)
        platforms = []
        for minor in range(int(glibc[1]) if glibc else 28, 4, -1):
            platforms.append(f"manylinux_2_{minor}_{arch}")
            if minor in _LEGACY_MANYLINUX:
                platforms.append(f"{_LEGACY_MANYLINUX[minor]}_{arch}")
        platforms.append(f"linux_{arch}")
    elif record.sys_platform == "win32":
        platforms = [{"AMD64": "win_amd64", "ARM64": "win_arm64"}.get(arch, f"win_{arch}")]
    else:
        target = dict(record.uv_environment).get("MACOSX_DEPLOYMENT_TARGET", "11.0")
        major, minor = (int(part) for part in f"{target}.0".split(".")[:2])
        platforms = list(mac_platforms((major, minor), arch))
    version = tuple(int(part) for part in python.split("."))
    interpreter = f"cp{version[0]}{version[1]}"
    return [
        *cpython_tags(version, [interpreter], platforms),
        *compatible_tags(version, interpreter, platforms),
    ]


def marker_environment(platform: str, python: str) -> dict[str, str]:
    """What a marker of uv's export is evaluated against, for `platform`."""
    record = platform_named(platform)
    system, arch = record.sys_platform, record.machine
    return {
        "sys_platform": system,
        "platform_machine": arch,
        "platform_system": {"linux": "Linux", "win32": "Windows", "darwin": "Darwin"}[system],
        "os_name": "nt" if system == "win32" else "posix",
        "python_version": python,
        "python_full_version": f"{python}.0",
        "implementation_name": "cpython",
        "platform_python_implementation": "CPython",
        "extra": "",
    }


@dataclass(frozen=True)
class LockedFile:
    """A wheel or source archive of uv.lock: its file name, where it is, its sha256."""

    name: str
    source: str  # a URL, or the path of a file (a local folder index)
    sha256: str  # empty where uv.lock records none (a local folder index)


@dataclass(frozen=True)
class Exported:
    """A requirement of `uv export`: name, version, the URL it names, marker, hashes."""

    name: str
    version: str | None
    url: str | None
    marker: Marker | None
    hashes: frozenset[str]


def locked_files(lock_text: str) -> dict[str, list[tuple[str, list[LockedFile]]]]:
    """Each package's (version, files) entries in a uv lock, by canonical name."""
    files: dict[str, list[tuple[str, list[LockedFile]]]] = defaultdict(list)
    for package in tomllib.loads(lock_text).get("package", []):
        entries = [*package.get("wheels", []), *([package["sdist"]] if "sdist" in package else [])]
        found = []
        for entry in entries:
            source = entry.get("url") or entry.get("path")
            if not source:
                continue
            name = urllib.parse.unquote(source.replace("\\", "/").rsplit("/", 1)[-1])
            digest = str(entry.get("hash", "")).removeprefix("sha256:")
            found.append(LockedFile(name, source, digest))
        files[canonicalize_name(package["name"])].append((str(package.get("version", "")), found))
    return files


def exported(text: str) -> list[Exported]:
    """The requirements of `uv export --format requirements.txt`; local paths left out
    (they travel with the clone)."""
    found = []
    for line in text.replace("\\\n", " ").splitlines():
        line = line.strip()
        if not line or line.startswith(("#", "-e ", ".", "/", "file:")):
            continue
        head, *options = line.split(" --hash=")
        requirement = Requirement(head)
        specifiers = [s for s in requirement.specifier if s.operator == "=="]
        found.append(
            Exported(
                canonicalize_name(requirement.name),
                specifiers[0].version if specifiers else None,
                requirement.url,
                requirement.marker,
                frozenset(o.strip().removeprefix("sha256:") for o in options),
            )
        )
    return found


def best_file(files: Sequence[LockedFile], supported: Sequence[Tag]) -> LockedFile | None:
    """The wheel an installer picks among `files` (`supported`: best first), else the sdist."""
    rank = {tag: position for position, tag in enumerate(supported)}
    best: tuple[int, LockedFile] | None = None
    for file in files:
        if not file.name.endswith(".whl"):
            continue
        try:
            tags = parse_wheel_filename(file.name)[3]
        except InvalidWheelFilename:
            continue
        position = min((rank[tag] for tag in tags if tag in rank), default=None)
        if position is not None and (best is None or position < best[0]):
            best = (position, file)
    if best is not None:
        return best[1]
    return next((file for file in files if not file.name.endswith(".whl")), None)


def files_to_carry(
    lock_text: str, exports: Sequence[str], platforms: Sequence[str], python: str
) -> tuple[dict[str, LockedFile], list[str]]:
    """The files a wheelhouse needs (by file name) and the problems that stop it.

    `exports` are `uv export` outputs of the lock (one per build extra); each requirement
    whose marker holds on a platform needs the file an installer would pick there.
    """
    locked = locked_files(lock_text)
    chosen: dict[str, LockedFile] = {}
    problems: list[str] = []
    for text in exports:
        for requirement in exported(text):
            if requirement.url and requirement.url.startswith("git+"):
                problems.append(
                    f"{requirement.name} comes from git ({requirement.url}), which a node "
                    "without network cannot clone: depend on a released version or a wheel URL."
                )
                continue
            files = [
                file
                for version, entry in locked.get(requirement.name, [])
                if requirement.version is None or Version(version) == Version(requirement.version)
                for file in entry
                if not requirement.hashes or file.sha256 in requirement.hashes
            ]
            for platform in platforms:
                environment = marker_environment(platform, python)
                if requirement.marker and not requirement.marker.evaluate(environment):
                    continue
                file = best_file(files, supported_tags(platform, python))
                if file is None:
                    version = requirement.version or requirement.url
                    problems.append(
                        f"{requirement.name} {version}: uv.lock has no file for {platform}"
                    )
                else:
                    chosen[file.name] = file
    return chosen, problems


def script_dependencies() -> list[str]:
    """The dependencies in scripts/setup_env.py's header (`# /// script`)."""
    text = (PROJECT / "scripts" / "setup_env.py").read_text(encoding="utf-8")
    block = re.search(r"^# /// script\n((?:#.*\n)*?)# ///$", text, re.MULTILINE)
    assert block is not None, "this script's header is missing"
    header = "".join(line[2:] + "\n" for line in block[1].splitlines())
    return [str(item) for item in tomllib.loads(header).get("dependencies", [])]


UNREADABLE_ARCHIVE = (OSError, ValueError, tarfile.TarError, zipfile.BadZipFile)


def sdist_build_requires(path: Path) -> list[str]:
    """[build-system] requires of a source archive; setuptools where it names none."""
    fallback = ["setuptools>=40.8.0"]
    try:
        if path.name.endswith(".zip"):
            with zipfile.ZipFile(path) as archive:
                name = min(
                    (n for n in archive.namelist() if n.endswith("/pyproject.toml")),
                    key=len,
                    default=None,
                )
                data = archive.read(name) if name else b""
        else:
            with tarfile.open(path) as archive:
                member = min(
                    (m for m in archive.getmembers() if m.name.endswith("/pyproject.toml")),
                    key=lambda m: len(m.name),
                    default=None,
                )
                extracted = archive.extractfile(member) if member else None
                data = extracted.read() if extracted else b""
        requires = tomllib.loads(data.decode("utf-8")).get("build-system", {}).get("requires")
    except UNREADABLE_ARCHIVE:
        return fallback
    return [str(item) for item in requires] if isinstance(requires, list) else fallback


def index_credentials(pyproject_text: str, environment: Mapping[str, str]) -> dict[str, str]:
    """Authorization headers by the address (scheme://host:port) of each index that has
    credentials in uv's variables (UV_INDEX_<NAME>_USERNAME / _PASSWORD)."""
    headers = {}
    for index in tomllib.loads(pyproject_text).get("tool", {}).get("uv", {}).get("index", []):
        key = re.sub(r"[^A-Z0-9]", "_", str(index.get("name", "")).upper())
        user = environment.get(f"UV_INDEX_{key}_USERNAME")
        if user is None or "://" not in str(index.get("url", "")):
            continue
        token = f"{user}:{environment.get(f'UV_INDEX_{key}_PASSWORD', '')}".encode()
        headers[realm(str(index["url"]))] = "Basic " + base64.b64encode(token).decode()
    return headers


def realm(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    return f"{parts.scheme}://{parts.hostname}:{parts.port or ''}"


def sha256_of(path: Path) -> str:
    with path.open("rb") as file:
        return hashlib.file_digest(file, "sha256").hexdigest()


def opened(source: str, credentials: Mapping[str, str]) -> BinaryIO:
    """A file of uv.lock opened for reading: a URL (with the index's credentials), a file: URL
    or a path (a local folder index; relative to the project)."""
    if re.match(r"https?://", source):
        headers = {"User-Agent": "scripts/setup_env.py (wheelhouse)"}
        if realm(source) in credentials:
            headers["Authorization"] = credentials[realm(source)]
        request = urllib.request.Request(source, headers=headers)
        response: BinaryIO = urllib.request.urlopen(request, timeout=60)
        return response
    if source.startswith("file:"):
        return Path(urllib.request.url2pathname(urllib.parse.urlsplit(source).path)).open("rb")
    return (PROJECT / source).open("rb")


def fetch(file: LockedFile, folder: Path, credentials: Mapping[str, str]) -> tuple[str, int]:
    """Copy one file of uv.lock into `folder`, checking its sha256; ("kept" | "fetched", size)."""
    target = folder / file.name
    if target.is_file() and file.sha256 and sha256_of(target) == file.sha256:
        return "kept", target.stat().st_size
    partial = folder / f".{file.name}.part"
    digest = hashlib.sha256()
    try:
        with opened(file.source, credentials) as stream, partial.open("wb") as out:
            for block in iter(lambda: stream.read(1 << 20), b""):
                digest.update(block)
                out.write(block)
    except OSError as error:  # urllib's URLError is one
        partial.unlink(missing_ok=True)
        raise StepFailed(f"{file.name}: cannot read {file.source} ({error}).") from error
    if file.sha256 and digest.hexdigest() != file.sha256:
        partial.unlink()
        raise StepFailed(
            f"{file.name} from {file.source} has sha256 {digest.hexdigest()}, but uv.lock "
            f"records {file.sha256}: the index serves another file than the one locked.",
            "Lock again (uv run scripts/setup_env.py), or ask the index's keeper.",
        )
    partial.replace(target)
    return "fetched", target.stat().st_size


def fetch_all(files: Mapping[str, LockedFile], folder: Path) -> dict[str, str]:
    """Fetch every file, four at a time, one line each; file name -> sha256."""
    credentials = index_credentials(read_pyproject(), uv_environment())
    done: dict[str, str] = {}
    with ThreadPoolExecutor(max_workers=4) as pool:
        futures = {
            name: pool.submit(fetch, files[name], folder, credentials) for name in sorted(files)
        }
        for name, future in futures.items():
            how, size = future.result()
            shown = f"{size / 1e6:.1f} MB" if size >= 100_000 else f"{size / 1e3:.0f} kB"
            print(f"    {name} ({shown}){': already there' if how == 'kept' else ''}", flush=True)
            done[name] = files[name].sha256 or sha256_of(folder / name)
    return done


def export_lock(extra: str | None, output: Path, *, script: Path | None = None) -> str:
    """uv.lock (or a script's lock) as requirements with hashes, for one build extra."""
    command = [uv(), "export", "--format", "requirements.txt", "--no-header", "--no-annotate"]
    if script is None:
        command += ["--locked", "--no-emit-project", "--no-emit-local"]
        command += ["--extra", extra] if extra else []
    else:
        command += ["--script", str(script)]
    run([*command, "--quiet", "--output-file", str(output)])
    return output.read_text(encoding="utf-8")


def start_script(requirements: Sequence[str], python: str) -> str:
    """A script whose dependencies are what the set-up needs before anything is installed."""
    listed = ", ".join(json.dumps(item) for item in requirements)
    return f'# /// script\n# requires-python = "=={python}.*"\n# dependencies = [{listed}]\n# ///\n'


def wheelhouse_note(manifest: Mapping[str, Any], folder: Path) -> str:
    builds = f"; PyTorch builds: {', '.join(manifest['extras'])}" if manifest["extras"] else ""
    platforms, python = ", ".join(manifest["platforms"]), manifest["python"]
    return f"""\
Wheelhouse of {manifest["project"]}: every file its uv.lock installs on {platforms}
(Python {python}{builds}), and what scripts/setup_env.py needs to start (its own
dependencies and the build backend). Written for uv.lock {manifest["lock_sha256"][:12]};
every file was checked against the sha256 uv.lock records.

On a machine without network: copy this folder there, with a clone of the project at the
same commit (the same uv.lock), and, from the project's root:

    export UV_OFFLINE=1 UV_FIND_LINKS={folder}
    uv run scripts/setup_env.py --wheelhouse {folder}

(give the folder's path there). uv and Python {python} must be on the machine: offline,
uv can download neither. The set-up installs the locked environment from this folder alone,
then runs the smoke test. After uv.lock changes, write the folder again where there is
network: uv run scripts/setup_env.py wheelhouse {folder}
"""


def write_wheelhouse(folder: Path, names: Sequence[str], extras: Sequence[str]) -> None:
    """`wheelhouse DIR`: every file uv.lock installs on the platforms, and the set-up's own."""
    text = read_pyproject()
    targets = project_platforms(text)
    builds = torch_extras(text)
    unknown = [name for name in names if name not in targets]
    if unknown:
        problem = (
            f"--platform {', '.join(unknown)}: not a platform this project locks "
            f"({', '.join(targets)}; [tool.uv] required-environments)."
        )
        raise InvalidProject(problem, "Name one of those, or leave --platform out.")
    if stray := [extra for extra in extras if extra not in builds]:
        offered = f"its builds are {', '.join(builds)}" if builds else "it has one build"
        problem = f"--extra {', '.join(stray)}: not a build of this project ({offered})."
        raise InvalidProject(problem, "Name one of its builds, or leave --extra out.")
    if not (PROJECT / "uv.lock").is_file():
        hint = "Run `uv run scripts/setup_env.py` first: it locks, pins and checks."
        raise InvalidProject("There is no uv.lock yet.", hint)
    platforms = [name for name in targets if name in names] or targets
    chosen_extras = [extra for extra in builds if extra in extras] or builds
    folder = folder.resolve()
    state: dict[str, Any] = {}

    def read_lock() -> None:
        state["python"] = python = project_python(text)
        each: list[str | None] = [*chosen_extras] or [None]  # None: the one build
        with tempfile.TemporaryDirectory() as scratch:
            exports = [export_lock(extra, Path(scratch) / f"{extra}.txt") for extra in each]
        files, problems = files_to_carry(lock_text(), exports, platforms, python)
        if problems:
            raise StepFailed(
                "uv.lock cannot be carried:\n" + "\n".join(f"      {p}" for p in problems)
            )
        state["files"] = files
        builds_note = f", PyTorch builds {', '.join(chosen_extras)}" if chosen_extras else ""
        print(f"    {len(files)} files for {', '.join(platforms)} (Python {python}{builds_note}).")

    def fetch_locked() -> None:
        folder.mkdir(parents=True, exist_ok=True)
        state["hashes"] = fetch_all(state["files"], folder)

    def fetch_start() -> None:
        sdists = [name for name in state["files"] if not name.endswith(".whl")]
        for name in sdists:
            print(
                f"    {name}: no wheel in uv.lock; the node builds it (build requirements carried)."
            )
        build_system = tomllib.loads(text).get("build-system", {}).get("requires", [])
        requirements = [*script_dependencies(), *build_system]
        requirements += [r for name in sdists for r in sdist_build_requires(folder / name)]
        with tempfile.TemporaryDirectory() as scratch:
            script = Path(scratch) / "start.py"
            script.write_text(start_script(requirements, state["python"]), encoding="utf-8")
            run([uv(), "lock", "--script", str(script)])
            export = export_lock(None, Path(scratch) / "start.txt", script=script)
            script_lock = Path(f"{script}.lock").read_text(encoding="utf-8")
        files, problems = files_to_carry(script_lock, [export], platforms, state["python"])
        if problems:
            raise StepFailed(
                "The set-up's own packages cannot be carried:\n"
                + "\n".join(f"      {p}" for p in problems)
            )
        state["hashes"] |= fetch_all(files, folder)

    def write_manifest() -> None:
        path = folder / WHEELHOUSE_MANIFEST
        lock_hash = sha256_of(PROJECT / "uv.lock")
        manifest: dict[str, Any] = {
            "project": tomllib.loads(text).get("project", {}).get("name", PROJECT.name),
            "lock_sha256": lock_hash,
            "python": state["python"],
            "platforms": platforms,
            "extras": chosen_extras,
            "files": state["hashes"],
        }
        old = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None
        if isinstance(old, dict) and old.get("lock_sha256") == lock_hash:  # another platform added
            manifest["platforms"] = [
                p.name for p in platform_table() if p.name in {*old["platforms"], *platforms}
            ]
            manifest["extras"] = sorted({*old["extras"], *chosen_extras})
            manifest["files"] = dict(sorted({**old["files"], **state["hashes"]}.items()))
        elif isinstance(old, dict):  # written for an older lock: its files go
            for name in set(old.get("files", {})) - set(state["hashes"]):
                (folder / name).unlink(missing_ok=True)
        path.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
        (folder / WHEELHOUSE_NOTE).write_text(wheelhouse_note(manifest, folder), encoding="utf-8")
        size = sum((folder / name).stat().st_size for name in manifest["files"])
        count = len(manifest["files"])
        print(f"    {count} files, {size / 1e6:.0f} MB; how to use it: {folder / WHEELHOUSE_NOTE}")

    steps = (
        Step(
            "export",
            "Reading what uv.lock installs on each platform (uv export)",
            read_lock,
            "Run `uv run scripts/setup_env.py` first: it locks, pins and checks uv.lock.",
        ),
        Step(
            "fetch",
            f"Fetching the locked files into {folder}",
            fetch_locked,
            "Check the network and the credentials of the index named above (.env), then run "
            "this again: the files fetched already are kept.",
        ),
        Step(
            "start",
            "Fetching what the set-up needs to start (its own dependencies, the build backend)",
            fetch_start,
            "Check the network; run this again.",
        ),
        Step(
            "note",
            f"Writing {WHEELHOUSE_MANIFEST} and {WHEELHOUSE_NOTE}",
            write_manifest,
            "Check the folder's permissions and free space.",
        ),
    )
    run_steps(steps, resumable=False)
    use = WHEELHOUSE_USE.format(folder=shlex.quote(str(folder)))
    print(
        f"==> Wheelhouse ready. On a node without network, from the project's root:\n    {use}",
        flush=True,
    )


# The node's side: `--wheelhouse DIR` runs env, this check, the install below, and check.


def read_manifest(folder: Path) -> dict[str, Any]:
    path = folder / WHEELHOUSE_MANIFEST
    write = WHEELHOUSE_WRITE.format(folder=folder)
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise StepFailed(
            f"{folder} is not a wheelhouse ({WHEELHOUSE_MANIFEST}: {error}).",
            f"Write one where there is network: {write}",
        ) from error
    if not isinstance(manifest, dict) or not {"lock_sha256", "platforms", "extras", "files"} <= set(
        manifest
    ):
        raise StepFailed(
            f"{path} is not a wheelhouse's manifest.", f"Write the wheelhouse again: {write}"
        )
    return manifest


def check_wheelhouse(folder: Path) -> None:
    lock_text()  # there is one
    manifest = read_manifest(folder)
    write = WHEELHOUSE_WRITE.format(folder=folder)
    if manifest["lock_sha256"] != sha256_of(PROJECT / "uv.lock"):
        raise StepFailed(
            f"{folder} was written for another uv.lock than this clone's.",
            "Check out the commit it was written for, or write it again from this one where "
            f"there is network: {write}",
        )
    here = platform_name(sys.platform, cpu_architecture())
    if here not in manifest["platforms"]:
        raise StepFailed(
            f"{folder} holds the files of {', '.join(manifest['platforms'])}, not of this machine "
            f"({here or f'{sys.platform} {cpu_architecture()}'}).",
            f"Write it for this platform too: {write} --platform {here}",
        )
    missing = sorted(name for name in manifest["files"] if not (folder / name).is_file())
    if missing:
        raise StepFailed(
            f"{folder} lacks {len(missing)} of its files: {', '.join(missing[:3])}"
            f"{', ...' if len(missing) > 3 else ''}.",
            "Copy the whole folder again.",
        )
    platforms = ", ".join(manifest["platforms"])
    print(f"    {len(manifest['files'])} files for {platforms}, written for this uv.lock.")


def local_requirements(text: str, folder: Path) -> str:
    """Exported requirements with each `name @ <URL of a file the folder holds>` pointed at
    the folder's copy (a node without network cannot reach the URL)."""

    def local(found: re.Match[str]) -> str:
        name = urllib.parse.unquote(found["url"].rsplit("/", 1)[-1])
        return f" @ {(folder / name).as_uri()}" if (folder / name).is_file() else found[0]

    return re.sub(r" @ (?P<url>https?://\S+)", local, text)


def project_environment() -> Path:
    """The project's environment: UV_PROJECT_ENVIRONMENT, else .venv."""
    named = uv_environment().get("UV_PROJECT_ENVIRONMENT")
    return PROJECT / named if named else PROJECT / ".venv"


def sync_from_wheelhouse(folder: Path) -> None:
    extra = chosen_extra()
    extras = read_manifest(folder)["extras"]
    if extra and extra not in extras:
        raise StepFailed(
            f"The wheelhouse holds the PyTorch builds {', '.join(extras)}, not '{extra}'.",
            f"Set TORCH_EXTRA in .env to one it holds, or write it with --extra {extra}.",
        )
    options = ["--extra", extra] if extra else []
    environment = project_environment()
    with tempfile.TemporaryDirectory() as scratch:
        requirements = Path(scratch) / "requirements.txt"
        text = export_lock(extra, requirements)
        requirements.write_text(local_requirements(text, folder), encoding="utf-8")
        run([uv(), "venv", "--quiet", "--allow-existing", str(environment)])
        run(
            [
                uv(),
                "pip",
                "sync",
                "--no-index",
                "--find-links",
                str(folder),
                "--python",
                str(environment),
                str(requirements),
            ]
        )
    run([uv(), "sync", "--locked", "--find-links", str(folder), *options])


def wheelhouse_steps(todo: Sequence[Step], folder: Path) -> tuple[Step, ...]:
    """The set-up's steps for `--wheelhouse`: lock, pin and the per-platform check were done
    where the wheelhouse was written; the install takes every file from it."""
    checked = Step(
        "wheelhouse",
        f"Checking the wheelhouse {folder} against uv.lock and this machine",
        lambda: check_wheelhouse(folder),
        "Use the wheelhouse written for this commit and platform.",
    )
    install = Step(
        "sync",
        f"Installing the locked environment from {folder} (no index)",
        lambda: sync_from_wheelhouse(folder),
        f"Write it again where there is network: {WHEELHOUSE_WRITE.format(folder=folder)}",
    )
    names = [step.name for step in todo]
    steps: list[Step] = []
    for step in todo:
        if step.name == "sync":
            steps += [checked, install]
        elif step.name not in ("lock", "pin", "verify"):
            steps.append(step)
    if "sync" not in names and {"lock", "pin", "verify"} & set(names):
        steps.insert(1 if names[0] == "env" else 0, checked)
    return tuple(steps)


# ── pixi ───────────────────────────────────────────────────────────────────
