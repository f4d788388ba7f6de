"""Where PyTorch wheels come from: the official index, a lab mirror, or a local folder."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

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


def index_url_error(base: str, accelerator: str) -> str:
    if not base.strip():
        return (
            f"The index URL is empty. Use {DEFAULT_TORCH_INDEX_URL}, a mirror, or a local folder."
        )
    if base.startswith(("http://", "https://")):
        return ""
    if "://" in base and not base.startswith("file://"):
        return f"'{base}' is neither an http(s) URL nor a local folder."
    folder = _local_folder(base)
    assert folder is not None
    if not folder.is_absolute():
        return f"'{base}' is a relative path. Give the folder as an absolute path."
    builds = folder / accelerator
    if not builds.is_dir() or not any(builds.glob("*.whl")):
        return (
            f"The folder {builds} holds no wheels. A local index needs the wheels of each "
            f"build under <folder>/<build>/, here {builds}/torch-*.whl."
        )
    return ""
