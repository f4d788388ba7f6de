"""The commands a generated project documents, and which of them can run on this machine.

A command is a line of a fenced `bash` block of the README, or an inline code span that is
a whole command (`uvx ...`, `uv run scripts/...`). Each one is classified by its start:
it runs here (tests/test_matrix.py runs it exactly as written), runs in another test
module, or cannot run here, with the reason. A command that matches no rule fails the
test that lists them, so a new documented command gets a decision.
"""

from __future__ import annotations

import re
from pathlib import Path

# (start of the command, where it runs); the first match decides.
RULES: list[tuple[str, str]] = [
    ("uv run python -m ipykernel install", "not here: writes a kernel into the user's Jupyter"),
    ("uv run --with jupyterlab jupyter lab", "not here: starts a server"),
    ("uvx tensorboard", "not here: starts a server"),
    ("uvx mlflow ui", "not here: starts a server"),
    ("uv run scripts/mlflow_ui.py", "not here: starts a server (--check resolves it)"),
    ("uv sync --extra cu", "not here: installs a CUDA build, and only stand-ins exist here"),
    ("uv sync --extra rocm", "not here: installs a ROCm build, and only stand-ins exist here"),
    ("uv sync --frozen", "not here: the SLURM job's own install, run by the job files"),
    ("uv sync --locked --no-dev", "not here: the container build's install (Docker, Apptainer)"),
    ("uvx --with copier-template-extensions copier update", "tests/test_update.py"),
    ("uv run scripts/setup_env.py wheelhouse", "tests/test_wheelhouse.py (writes the wheelhouse)"),
    ("export UV_OFFLINE=1 UV_FIND_LINKS=", "tests/test_wheelhouse.py (a node without network)"),
    (
        "uv run scripts/setup_env.py --wheelhouse",
        "tests/test_wheelhouse.py (a node without network)",
    ),
    # The README's Linux-only package: tests/test_platforms_lock.py adds it the documented
    # way with --no-sync (triton's Linux wheel is some 200 MB) and checks every platform.
    ("uv add \"triton; sys_platform == 'linux'\"", "tests/test_platforms_lock.py"),
    ("uvx pre-commit install", "run"),
    ("uvx pre-commit run", "run"),
    ("cp ", "run"),
    ("uv sync", "run"),
    ("uv run", "run"),
    ('uv add "xformers', "tests/test_torch_recipes.py (locked, not installed: a CUDA package)"),
    ("uv add xformers", "tests/test_torch_recipes.py (locked, not installed: a CUDA package)"),
    ("uv add numba==0.61.0", "tests/test_pin_conflicts.py (past a pin, with --no-sync)"),
    ("uv add", "run"),
    ("uv lock", "run"),
    ("uvx sp-repo-review", "run"),
    ("uvx cffconvert", "run"),
    ("sbatch", "tests/test_slurm_cluster.py (on its cluster, with fewer CPUs and steps)"),
    ("squeue", "not here: the tests read a job's state with scontrol"),
    ("srun", "tests/test_slurm_cluster.py (the smoke test's line, as written)"),
    ("docker", "not here: needs Docker"),
    ("apptainer", "not here: needs Apptainer"),
    ("pixi", "not here: pixi cannot be installed on this machine"),
    ("export CONDA_OVERRIDE_CUDA", "not here: a pixi setting"),
    ("curl", "not here: installs a tool from the web"),
]
RUN = "run"

_BLOCK = re.compile(r"```bash\n(.*?)```", re.DOTALL)
_INLINE = re.compile(r"(?<!`)`((?:uvx |uv run scripts/)[^`]*)`(?!`)")


def documented_commands(markdown: str) -> list[str]:
    """Commands of the page in order: block lines without comments, then inline ones."""
    commands: list[str] = []
    for block in _BLOCK.findall(markdown):
        for line in block.replace("\\\n", " ").splitlines():
            command = re.sub(r"\s+#(?:\s.*)?$", "", line).strip()
            if command and not command.startswith("#"):
                commands.append(" ".join(command.split()))
    commands += _INLINE.findall(markdown)
    return list(dict.fromkeys(commands))


PLACEHOLDER = "a form with <placeholders>: the reader fills them in"


def where(command: str) -> str | None:
    """RUN, another test module, "not here: why", or None when no rule matches."""
    if re.search(r"<[^>]+>", command):
        return PLACEHOLDER
    return next((verdict for start, verdict in RULES if command.startswith(start)), None)


def readme_commands(project: Path) -> list[str]:
    return documented_commands((project / "README.md").read_text())
