"""Disk used by several projects that share files with the uv cache, counted per inode.

uv installs a package by linking its files from the cache into the project's `.venv`
(clone where the filesystem can, else hardlink, else copy). `du` on one project counts
those files in full; what a second project really costs is only what it does not share.

Method: walk each project and record every inode once, with its allocated size
(st_blocks * 512) and its link count. A regular file whose link count is higher than the
number of links found in all the walked projects is also linked from outside them: with the
uv cache on the same filesystem, that is the cache. Such a file is counted once, in the
cache, and costs a project nothing extra. Directories and symlinks always belong to their
project. A clone (reflink) is a separate inode that shares blocks: this method cannot see
that sharing, so on a filesystem that clones it over-counts (`reflink_supported` says when).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import stat
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

FICLONE = 0x40049409  # Linux ioctl: make the destination a clone of the source


@dataclass(frozen=True)
class Inode:
    size: int  # allocated bytes
    nlink: int  # link count; 1 for directories and symlinks (never shared)
    regular: bool  # a regular file
    kind: str  # one of KINDS


KINDS = ("bytecode", "directories", "other")  # what a project's own bytes are


def kind_of(path: str, is_directory: bool) -> str:
    """Bytecode is what Python writes where it imports (`__pycache__`); directories are the
    blocks of the folders uv makes for each package, whose files it links from its cache."""
    if "__pycache__" in path.split(os.sep) or path.endswith((".pyc", ".pyo")):
        return "bytecode"
    return "directories" if is_directory else "other"


def scan(root: Path) -> tuple[dict[tuple[int, int], Inode], Counter[tuple[int, int]]]:
    """Every inode under `root` (root included), and how many times the walk met each."""
    inodes: dict[tuple[int, int], Inode] = {}
    met: Counter[tuple[int, int]] = Counter()
    stack = [str(root)]
    while stack:
        folder = stack.pop()
        entries = [folder]
        with contextlib.suppress(FileNotFoundError), os.scandir(folder) as it:
            for entry in it:
                if entry.is_dir(follow_symlinks=False):
                    stack.append(entry.path)
                else:
                    entries.append(entry.path)
        for path in entries:
            try:
                info = os.lstat(path)
            except FileNotFoundError:
                continue
            key = (info.st_dev, info.st_ino)
            regular = stat.S_ISREG(info.st_mode)
            kind = kind_of(path, stat.S_ISDIR(info.st_mode))
            inodes[key] = Inode(
                info.st_blocks * 512, info.st_nlink if regular else 1, regular, kind
            )
            met[key] += 1
    return inodes, met


@dataclass(frozen=True)
class TreeUsage:
    """One project's disk use, in bytes."""

    path: str
    total: int  # every inode in the project once: what `du` would say for it alone
    shared_outside: int  # files also linked from outside the projects (the uv cache)
    added: int  # what this project adds to the disk: not in an earlier project, not shared
    added_by_kind: dict[str, int]  # `added`, split by KINDS


def account(trees: list[Path]) -> list[TreeUsage]:
    """Disk use of each tree, in order: `added` counts what earlier trees did not already hold."""
    scans = [scan(tree) for tree in trees]
    links_found: Counter[tuple[int, int]] = Counter()
    for _, met in scans:
        links_found.update(met)
    seen: set[tuple[int, int]] = set()
    usages = []
    for tree, (inodes, _) in zip(trees, scans, strict=True):
        outside = {key for key, inode in inodes.items() if inode.nlink > links_found[key]}
        added = [i for key, i in inodes.items() if key not in seen and key not in outside]
        usages.append(
            TreeUsage(
                path=str(tree),
                total=sum(inode.size for inode in inodes.values()),
                shared_outside=sum(inodes[key].size for key in outside),
                added=sum(inode.size for inode in added),
                added_by_kind={k: sum(i.size for i in added if i.kind == k) for k in KINDS},
            )
        )
        seen.update(inodes)
    return usages


def linked_share(tree: Path) -> float:
    """The fraction of the regular-file bytes under `tree` that are hardlinks (link count > 1)."""
    inodes, _ = scan(tree)
    files = [inode for inode in inodes.values() if inode.regular]
    total = sum(inode.size for inode in files)
    linked = sum(inode.size for inode in files if inode.nlink > 1)
    return linked / total if total else 0.0


def reflink_supported(folder: Path) -> bool | None:
    """Whether the filesystem of `folder` can clone files; None where this cannot be tested."""
    if not sys.platform.startswith("linux"):
        return None
    source, clone = folder / ".reflink-probe-source", folder / ".reflink-probe-clone"
    try:
        source.write_bytes(b"probe")
        with source.open("rb") as src, clone.open("wb") as dst:
            fcntl.ioctl(dst.fileno(), FICLONE, src.fileno())
        return True
    except OSError:
        return False
    finally:
        source.unlink(missing_ok=True)
        clone.unlink(missing_ok=True)


def same_filesystem(a: Path, b: Path) -> bool:
    return a.stat().st_dev == b.stat().st_dev
