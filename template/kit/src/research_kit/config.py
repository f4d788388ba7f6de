# Template-owned: `copier update` replaces this file; edits of yours are merged in.
"""Project settings: the .env file at the project root and the folders it names."""

from __future__ import annotations

import os
from pathlib import Path

from dotenv import load_dotenv


def find_project_root(start: Path | None = None) -> Path | None:
    """The nearest folder above `start` (default: this file) that holds pyproject.toml, kit/
    itself left out (it has one too)."""
    here = (start or Path(__file__)).resolve()
    for folder in here.parents:
        if (folder / "pyproject.toml").is_file() and not (folder / "src/research_kit").is_dir():
            return folder
    return None


def load_environment(root: Path | None = None) -> Path | None:
    """Load `<root>/.env` into os.environ; variables already set win. Returns the file read.

    PROJECT_ROOT is set first, so .env values can be written as ${PROJECT_ROOT}/data and
    mean the same folder whatever the working directory.
    """
    root = root or find_project_root()
    if root is None:
        return None
    os.environ.setdefault("PROJECT_ROOT", str(root))
    env_file = root / ".env"
    if not env_file.is_file():
        return None
    load_dotenv(env_file, override=False)
    return env_file


def _folder(variable: str, default: str) -> Path:
    if value := os.environ.get(variable):
        return Path(value)
    return Path(os.environ.get("PROJECT_ROOT", Path.cwd())) / default


def data_dir() -> Path:
    """Where data sets live: $DATA_DIR, else <project>/data."""
    return _folder("DATA_DIR", "data")


def output_dir() -> Path:
    """Where runs write their results: $OUTPUT_DIR, else <project>/outputs."""
    return _folder("OUTPUT_DIR", "outputs")
