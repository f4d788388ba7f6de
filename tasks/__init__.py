"""Copier's tasks and migrations (copier.yml runs them: `python <template>/tasks <task>`).

Importing any of them puts the template's kit/src on sys.path (KIT): the update's
dependency merge (dependency_merge.py) applies the generated project's pin rules, which
live there as the package research_kit.setup.pins, and imports them as a module.
"""

from __future__ import annotations

import sys
from pathlib import Path

# No __pycache__ in the template's folders: Copier renders (during an update, after the
# tasks that run first) whatever files the template's clone holds.
sys.dont_write_bytecode = True
KIT = str(Path(__file__).resolve().parent.parent / "template" / "kit" / "src")
if KIT not in sys.path:
    sys.path.append(KIT)
