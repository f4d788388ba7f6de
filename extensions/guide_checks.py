"""Checks of the Scientific Python development guide (sp-repo-review) a project skips, and why.

Each reason is written into the generated `[tool.repo-review.ignore]` table, where
sp-repo-review shows it next to the skipped check. Everything else the guide checks, the
generated project passes (tests/test_tooling.py runs sp-repo-review on every variant).
"""

from __future__ import annotations

LOCAL_HOOK = (
    "Satisfied by the local hook '{hook}' in .pre-commit-config.yaml, which runs the locked "
    "tool from this project's environment; this check only recognises the upstream hook "
    "repository."
)

ALWAYS: dict[str, str] = {
    "PY004": "A research project documents itself in README.md; add docs/ when it needs a manual.",
    "PC100": LOCAL_HOOK.format(hook="check-toml, check-yaml, check-merge-conflict"),
    "PC110": LOCAL_HOOK.format(hook="ruff-format"),
    "PC140": LOCAL_HOOK.format(hook="mypy"),
    "PC190": LOCAL_HOOK.format(hook="ruff-check"),
    "PC160": (
        "No spell checker: names of genes, compounds, datasets and symbols from papers make "
        "one noisy in research code. Add codespell to .pre-commit-config.yaml to opt in."
    ),
    "PC170": "pygrep-hooks check reStructuredText, and this project has none.",
    "PC180": "README.md is the only Markdown file; it does not need a formatter of its own.",
    "PC901": (
        "pre-commit.ci is not used: its runners cannot run hooks from the project's locked "
        "environment. CI runs the same checks."
    ),
    "PC902": "pre-commit.ci is not used (see PC901).",
    "PC903": "pre-commit.ci is not used (see PC901).",
}

NO_TASK_RUNNER = (
    "One pinned Python and one locked environment leave nox or tox nothing to vary; "
    "`uv run` runs every task."
)

NOT_ON_GITHUB: dict[str, str] = {
    "gitlab": "CI runs on GitLab (.gitlab-ci.yml); the GitHub Actions checks do not apply.",
    "none": "No CI was chosen for this project (ci_provider = none).",
}


def ignored_checks(env_manager: str, ci_provider: str) -> dict[str, str]:
    """The guide's checks this variant skips, each with the reason shown in the report."""
    ignored = dict(ALWAYS)
    if env_manager == "uv":
        ignored["PY007"] = NO_TASK_RUNNER
    if ci_provider in NOT_ON_GITHUB:
        ignored["GH100"] = NOT_ON_GITHUB[ci_provider]
    return dict(sorted(ignored.items()))
