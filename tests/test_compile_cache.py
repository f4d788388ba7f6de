"""Each template source is compiled once per process (extensions/compile_cache.py).

Copier compiles every templated question field and file name again on each render, and
renders in a new environment over a new clone of the template each time (two or three times
per update); the template caches the compiled code across environments whose compiling is
the same. Caching must never change what renders, nor which file a traceback names.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import traceback
from pathlib import Path
from typing import Any

import jinja2
import pytest
from conftest import BASE_ANSWERS, TEMPLATE
from jinja2 import Environment, FileSystemLoader, TemplateAssertionError, TemplateSyntaxError

from extensions import compile_cache, gitconfig


def cached_environment(**settings: str) -> Environment:
    environment = Environment(**settings)
    compile_cache.cache_compiles(environment)
    return environment


def test_the_same_source_is_compiled_once() -> None:
    environment = cached_environment()
    assert environment.compile("{{ x }}") is environment.compile("{{ x }}")


def test_a_cached_template_renders_each_context_on_its_own() -> None:
    environment = cached_environment()
    assert environment.from_string("{{ x }}").render(x=1) == "1"
    assert environment.from_string("{{ x }}").render(x=2) == "2"


def test_environments_with_other_settings_do_not_share_code() -> None:
    default = cached_environment()
    brackets = cached_environment(variable_start_string="[[", variable_end_string="]]")
    assert default.from_string("[[ x ]]").render(x=1) == "[[ x ]]"
    assert brackets.from_string("[[ x ]]").render(x=1) == "1"


def test_a_syntax_error_is_raised_every_time() -> None:
    environment = cached_environment()
    for _ in range(2):
        with pytest.raises(TemplateSyntaxError):
            environment.compile("{{ x ")


def test_environments_alike_share_the_compiled_code() -> None:
    first, second = cached_environment(), cached_environment()
    assert first.compile("{{ y }} and {{ z }}") is second.compile("{{ y }} and {{ z }}")


def test_the_filters_that_read_git_run_at_each_render(tmp_path: Path) -> None:
    # Jinja calls a filter on a constant while compiling (`'user.name' | git_config`), and
    # the code is shared: these filters take the context, so that each render calls them.
    source = "{{ 'user.name' | git_config }} ({{ 'user.name' | git_config_source }})"
    config = tmp_path / "gitconfig"
    for name in ("Ada", "Grace"):
        config.write_text(f"[user]\n\tname = {name}\n")
        environment = cached_environment()
        environment.filters.update(gitconfig.FILTERS)
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("GIT_CONFIG_GLOBAL", str(config))
            rendered = environment.from_string(source).render()
        assert rendered == f"{name} (default: git config user.name)"


def test_a_filter_unknown_to_an_environment_is_an_error_there() -> None:
    known = cached_environment()
    known.filters["tone"] = str.upper
    assert known.from_string('{{ "hi" | tone }}').render() == "HI"
    with pytest.raises(TemplateAssertionError, match="tone"):
        cached_environment().from_string('{{ "hi" | tone }}')


def test_a_file_compiled_before_in_another_folder_names_its_own_file(tmp_path: Path) -> None:
    folders = [tmp_path / "clone-1", tmp_path / "clone-2"]
    for folder in folders:
        folder.mkdir()
        (folder / "README.md.jinja").write_text("line one\n{{ missing.attribute }}\n")
    for folder in folders:
        environment = Environment(loader=FileSystemLoader(folder))
        compile_cache.cache_compiles(environment)
        template = environment.get_template("README.md.jinja")
        with pytest.raises(Exception) as raised:
            template.render()
        frames = traceback.extract_tb(raised.value.__traceback__)
        template_frames = [(f.filename, f.lineno) for f in frames if f.filename.endswith(".jinja")]
        assert template_frames == [(str(folder / "README.md.jinja"), 2)]


# ── On disk: the next process reads what this one compiled ─────────────────


@pytest.fixture
def disk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A cache folder of the test's own; each use of `new_process` then starts as a new
    process would, with nothing compiled in memory."""
    monkeypatch.setenv(compile_cache.CACHE_DIR_VARIABLE, str(tmp_path / "cache"))
    forget_compiled(monkeypatch)
    return tmp_path / "cache"


def forget_compiled(monkeypatch: pytest.MonkeyPatch) -> None:
    """Environments made from now on start with nothing compiled in memory."""
    fresh: dict[Any, Any] = {}
    monkeypatch.setattr(compile_cache, "_store", lambda: fresh)


def new_process(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Forget the code compiled in memory; the sources Jinja compiles from now on are listed."""
    forget_compiled(monkeypatch)
    compiled: list[str] = []
    original = Environment.compile

    def counted(self: Environment, source: Any, *args: Any, **kwargs: Any) -> Any:
        compiled.append(source if isinstance(source, str) else "<nodes>")
        return original(self, source, *args, **kwargs)

    monkeypatch.setattr(Environment, "compile", counted)
    return compiled


def kept_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def test_code_compiled_in_one_process_is_read_by_the_next(
    disk: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert cached_environment().from_string("{{ x }} and {{ y }}").render(x=1, y=2) == "1 and 2"
    assert len(kept_files(disk)) == 1
    compiled = new_process(monkeypatch)
    assert cached_environment().from_string("{{ x }} and {{ y }}").render(x=3, y=4) == "3 and 4"
    assert compiled == []


def test_the_folder_is_the_pythons_and_jinjas_own(disk: Path) -> None:
    folder = compile_cache.cache_folder()
    assert folder is not None and folder.parent == disk / "jinja"
    assert folder.name == f"{sys.implementation.cache_tag}-jinja{jinja2.__version__}"


def test_a_damaged_file_is_compiled_again_and_replaced(
    disk: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cached_environment().compile("{{ x }}")
    (kept,) = kept_files(disk)
    kept.write_bytes(kept.read_bytes()[:20])  # cut short, as by a full disk
    compiled = new_process(monkeypatch)
    assert cached_environment().from_string("{{ x }}").render(x=5) == "5"
    assert compiled == ["{{ x }}"]
    compiled = new_process(monkeypatch)
    assert cached_environment().from_string("{{ x }}").render(x=6) == "6"
    assert compiled == []


def test_a_filter_known_only_by_its_place_in_memory_keeps_the_code_off_disk(disk: Path) -> None:
    environment = cached_environment()
    environment.filters["shout"] = eval("lambda text: text.upper()")  # no file, no name
    assert environment.from_string('{{ "hi" | shout }}').render() == "HI"
    assert kept_files(disk) == []


def test_an_empty_setting_keeps_nothing_on_disk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(compile_cache.CACHE_DIR_VARIABLE, "")
    monkeypatch.chdir(tmp_path)
    assert compile_cache.cache_folder() is None
    assert cached_environment().from_string("{{ x }}").render(x=1) == "1"
    assert list(tmp_path.iterdir()) == []


def test_a_folder_that_cannot_be_written_is_passed_over(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")
    monkeypatch.setenv(compile_cache.CACHE_DIR_VARIABLE, str(blocked))
    forget_compiled(monkeypatch)
    assert cached_environment().from_string("{{ x }}").render(x=7) == "7"


@pytest.mark.parametrize(
    "answers",
    [
        {"project_name": "Plain Numbers", "framework": "none"},
        {"project_name": "Ünïcode “Lab”", "include_slurm": True, "tracker": "wandb"},
    ],
    ids=["numpy", "pytorch-slurm-wandb"],
)
def test_a_render_from_code_kept_on_disk_is_the_render_without_it(
    tmp_path: Path, answers: dict[str, Any]
) -> None:
    """Copier's command line, three processes: the first keeps its code on disk, the second
    reads it, the third keeps nothing. The three projects are the same, byte for byte."""
    cache = tmp_path / "cache"
    data = [f"--data={name}={value}" for name, value in {**BASE_ANSWERS, **answers}.items()
            if name != "platforms"]  # fmt: skip
    trees = {}
    for label, setting in (("first", str(cache)), ("second", str(cache)), ("off", "")):
        destination = tmp_path / label
        result = subprocess.run(
            [sys.executable, "-m", "copier", "copy", "--trust", "--defaults", "--skip-tasks",
             *data, str(TEMPLATE), str(destination)],
            env={**os.environ, compile_cache.CACHE_DIR_VARIABLE: setting},
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        trees[label] = {
            path.relative_to(destination).as_posix(): path.read_bytes()
            for path in sorted(destination.rglob("*"))
            if path.is_file()
        }
        # Copier commits a dirty template anew for each copy: only its commit may differ.
        answers_file = trees[label][".copier-answers.yml"].decode()
        trees[label][".copier-answers.yml"] = re.sub("_commit: .*", "", answers_file).encode()
        if label == "first":
            assert kept_files(cache)
    assert trees["second"] == trees["first"]
    assert trees["off"] == trees["first"]


def test_a_release_unused_for_long_leaves_the_cache_when_another_arrives(
    disk: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each set of settings (a template release, its filters) has a folder; making a new one
    removes those nothing was written into for UNUSED_DAYS, and keeps the others."""
    folder = compile_cache.cache_folder()
    assert folder is not None
    stale, recent = folder / "stale-release", folder / "recent-release"
    for old in (stale, recent):
        old.mkdir(parents=True)
        (old / "code").write_bytes(b"")
    days = compile_cache.UNUSED_DAYS
    long_ago = time.time() - (days + 1) * 24 * 3600
    os.utime(stale, (long_ago, long_ago))
    lately = time.time() - (days - 1) * 24 * 3600
    os.utime(recent, (lately, lately))
    cached_environment().compile("{{ x }}")
    assert not stale.exists()
    assert (recent / "code").is_file()
    assert len([p for p in folder.iterdir() if p.is_dir()]) == 2
