"""Issue #19: the set-up pins every dependency `==`, so a package added later that needs
another version of a pinned one stops `uv add`. The README names the way out, and the way
it names locks (real PyPI packages: numba 0.61.0 needs numpy < 2.2; the set-up pins the
newest numpy, 2.3 or later)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from conftest import render, run

ADD = re.compile(r"^uv add numba==0\.61\.0 \"numpy<2\.2\"$", re.MULTILINE)


def test_a_package_that_needs_another_version_of_a_pin_adds_as_the_readme_says(
    tmp_path: Path, fresh_uv_cache: Path
) -> None:
    project = render(
        tmp_path / "cell-counts",
        skip_tasks=True,
        framework="none",
        python_version="3.12",
        platforms=["linux-x86_64"],
    )
    set_up = run(["uv", "run", "scripts/setup_env.py", "--until", "verify"], project)
    assert set_up.returncode == 0, set_up.stdout + set_up.stderr
    refused = run(["uv", "add", "--no-sync", "numba==0.61.0"], project)
    assert refused.returncode != 0
    assert "your project depends on numpy==" in refused.stderr, refused.stderr

    documented = ADD.search((project / "README.md").read_text())
    assert documented, "README.md no longer shows how to add past a pin"
    added = run(["uv", "add", "--no-sync", "numba==0.61.0", "numpy<2.2"], project)
    assert added.returncode == 0, added.stderr
    dependencies = tomllib.loads((project / "pyproject.toml").read_text())["project"][
        "dependencies"
    ]
    assert "numba==0.61.0" in dependencies and "numpy<2.2" in dependencies, dependencies
    checked = run(
        ["uv", "run", "scripts/setup_env.py", "--from", "pin", "--until", "verify"], project
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert (
        "numpy<2.2"
        in tomllib.loads((project / "pyproject.toml").read_text())["project"]["dependencies"]
    ), "the set-up rewrote the range the researcher wrote"
