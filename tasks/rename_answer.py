"""Migration helper: a question was renamed; carry the project's answer over to the new name.

    python tasks/rename_answer.py ANSWERS_FILE OLD_NAME NEW_NAME

Used from copier.yml as a versioned `_migrations` entry at stage "before" (see
docs/contributing.md, "Adding a migration"). Copier reads the answers file again after the
"before" migrations, so the new template version sees the user's old answer under the new
name instead of asking again or taking the default. Copier rewrites the whole file during
the update, so its layout here does not matter.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import yaml  # Copier depends on PyYAML


def rename_answer(answers: dict[str, Any], old: str, new: str) -> dict[str, Any]:
    """`answers` with `old` renamed to `new`; an answer already under `new` wins."""
    if old not in answers:
        return answers
    renamed = {key: value for key, value in answers.items() if key != old}
    renamed.setdefault(new, answers[old])
    return renamed


def main(argv: list[str]) -> int:
    answers_file, old, new = Path(argv[0]), argv[1], argv[2]
    answers = yaml.safe_load(answers_file.read_text(encoding="utf-8")) or {}
    if old in answers:
        print(f"==> Migration: answer '{old}' is now called '{new}'", flush=True)
        answers_file.write_text(yaml.safe_dump(rename_answer(answers, old, new)), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
