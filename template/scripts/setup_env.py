# Template-owned: `copier update` replaces this file; edits of yours are merged in.
# /// script
# requires-python = ">=3.11"
# dependencies = ["tomlkit>=0.13", "packaging>=24", "python-dotenv>=1"]
# ///
"""Set up this project's environment: lock, pin direct dependencies to the lock, sync, check.

    uv run scripts/setup_env.py                  # every step; safe to run again
    uv run scripts/setup_env.py --from sync      # resume from one step
    uv run scripts/setup_env.py --until verify   # lock and check every platform; install nothing
    uv run scripts/setup_env.py upgrade [NAME]   # newest versions allowed; re-pin, sync, check
    uv run scripts/setup_env.py wheelhouse DIR   # every locked file, for a node without network

Pinning writes `==<locked version>` for each direct dependency written without a version
(project dependencies, optional dependencies and dependency groups) and records those pins
in [tool.setup-env.pinned], so the file itself says which versions the results were produced
with; uv.lock then pins everything else. A range or pin you wrote yourself stays as written.

A pixi project (pyproject.toml has [tool.pixi]) is set up by pixi instead, and any Python
3.11 or newer runs this script for it: `python scripts/setup_env.py` (.env, pixi lock,
pixi install).

The code is the template's, in kit/src/research_kit/setup/ (kit/README.md).
"""

import sys
from pathlib import Path

if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "kit" / "src"))
    from research_kit.setup.cli import main

    sys.exit(main())
