"""Line endings as the user's files have them: an update never turns CRLF into LF.

The tasks read text with Python's universal newlines (and git's output in text mode), so they
work on LF; a file the project had with CRLF line endings (a Windows editor, or
`core.autocrlf` off) is given its CRLF back wherever a task or Copier wrote it: the staged
pyproject.toml before the merge, and pyproject.toml and the answers file after it. Standard
library only: Copier's interpreter runs it.
"""

from __future__ import annotations

import subprocess
from pathlib import Path


def uses_crlf(data: bytes) -> bool:
    """Every line of `data` ends with CRLF (a file with both kinds is left as it is)."""
    return b"\r\n" in data and data.count(b"\r\n") == data.count(b"\n")


def committed_crlf(project: Path, path: str) -> bool:
    """The project's last commit has `path` with CRLF line endings."""
    shown = subprocess.run(
        ["git", "show", f"HEAD:./{path}"], cwd=project, capture_output=True, check=False
    )
    return shown.returncode == 0 and uses_crlf(shown.stdout)


def as_written(text: str, crlf: bool) -> str:
    """`text` with LF line endings, or CRLF ones when `crlf`."""
    lf = text.replace("\r\n", "\n")
    return lf.replace("\n", "\r\n") if crlf else lf


def keep(project: Path, paths: tuple[str, ...]) -> None:
    """Give each of `paths` the CRLF line endings it had in the last commit, if it had them."""
    for path in paths:
        target = project / path
        if target.is_file() and committed_crlf(project, path):
            data = target.read_bytes()
            if not uses_crlf(data):
                target.write_bytes(as_written(data.decode("utf-8"), crlf=True).encode("utf-8"))
