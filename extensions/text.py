"""Free-text answers: what each may hold, and how it is written into each file format.

A free-text answer lands in several formats at once: TOML (pyproject.toml), YAML
(CITATION.cff, the answers file), a Python docstring, Markdown (README), comments of shell,
.env, Docker and Apptainer files. The check here refuses what no one-line field can hold
(line breaks, tabs and other control or invisible characters) and text longer than the
field's limit; the encoders below then write what remains so that each format reads back
exactly the answer.
"""

from __future__ import annotations

import json
import re
import shlex
import unicodedata

# The longest answer each free-text question takes. The package name's limit keeps every
# generated code line that names it within the project's 100 columns (ruff); the others are
# generous for their purpose and keep a typo (a pasted paragraph) from reaching the files.
MAX_LENGTH: dict[str, int] = {
    "project_name": 64,
    "package_name": 32,
    "description": 300,
    "author_name": 100,
    "author_email": 254,  # the longest address SMTP allows
    "orcid": 64,
    "torch_index_url": 500,
    "extra_dependencies": 2000,
    "slurm_partition": 200,
    "slurm_account": 64,
}

LABELS: dict[str, str] = {
    "project_name": "The project name",
    "package_name": "The package name",
    "description": "The description",
    "author_name": "The author name",
    "author_email": "The email",
    "orcid": "The ORCID iD",
    "torch_index_url": "The index URL",
    "extra_dependencies": "The dependency list",
    "slurm_partition": "The partition",
    "slurm_account": "The account",
}

# Invisible format characters that real names need: the joiners of Persian, Indic scripts
# and emoji sequences. Every other format character (bidirectional overrides, BOM, soft
# hyphen) is refused, with control characters, separators and unassigned code points.
_KEPT_FORMAT_CHARACTERS = {"\u200c", "\u200d"}
_REFUSED_CATEGORIES = {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}


def _describe(char: str) -> str:
    if char in "\n\r\u2028\u2029\x85\x0b\x0c":
        return "a line break"
    if char == "\t":
        return "a tab"
    name = unicodedata.name(char, "")
    return f"the invisible character U+{ord(char):04X}" + (f" ({name})" if name else "")


def text_error(question: str, text: str) -> str:
    """Empty when `text` fits one line of every file it lands in, else what is wrong."""
    label = LABELS[question]
    for char in text:
        if unicodedata.category(char) in _REFUSED_CATEGORIES and (
            char not in _KEPT_FORMAT_CHARACTERS
        ):
            return f"{label} contains {_describe(char)}; it must be one line of text. Remove it."
    limit = MAX_LENGTH[question]
    if len(text) > limit:
        return (
            f"{label} is {len(text)} characters long; the limit is {limit}. "
            "Shorten it (the README and the package metadata can say more later)."
        )
    return ""


# ── Encoders: one per format ──────────────────────────────────────────────


def quoted(value: str) -> str:
    """A double-quoted string, valid in TOML and YAML alike, non-ASCII letters kept as typed.

    JSON's escapes (\\" \\\\ \\uXXXX) are a subset of both; `text_error` has refused the
    control characters that TOML and YAML could not hold even escaped-free.
    """
    return json.dumps(value, ensure_ascii=False)


def _python_text(text: str) -> str:
    """`text` as the inside of a triple-quoted Python string: backslashes and `\"\"\"` escaped."""
    text = text.replace("\\", "\\\\")
    return re.sub(r'(?<="")"', lambda _: '\\"', text)  # a third quote would end the string


def _width(word: str) -> int:
    """Columns a word takes at most: 2 for any non-ASCII character (wide CJK, emoji)."""
    return sum(1 if ord(char) < 128 else 2 for char in word)


def wrap(words: list[str], width: int) -> list[str]:
    """`words` in lines of at most `width` columns (a longer word gets a line of its own)."""
    lines: list[str] = []
    line = ""
    for word in words:
        if line and _width(line) + 1 + _width(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    if line:
        lines.append(line)
    return lines


def docstring(summary: str, body: str = "", width: int = 88) -> str:
    """A module docstring: `summary` first, `body` below it, both wrapped.

    The closing quotes stand on a line of their own, so whatever the text ends with, the
    result is stable under `ruff format`, and its lines fit `width` columns (ruff's E501
    lets a single over-long word through).
    """
    lines = wrap([_python_text(word) for word in summary.split()], width)
    # ruff format pads a docstring that opens with a quote; an escaped one it leaves alone.
    lines[0] = re.sub(r'^"', lambda _: '\\"', lines[0])
    if body.strip():
        lines += ["", *wrap([_python_text(word) for word in body.split()], width)]
    return '"""' + "\n".join(lines) + '\n"""'


def python_characters(*texts: str) -> list[str]:
    """The non-ASCII characters of answers quoted in Python source, for ruff's allow-list.

    ruff reports characters that look like ASCII ones (RUF001-RUF003: Greek alpha,
    typographic quotes and dashes, the multiplication sign) so that a look-alike cannot
    hide in code; in a docstring that quotes the user's own text they are meant. The list
    names exactly those characters, nothing else.
    """
    return sorted({char for text in texts for char in text if ord(char) >= 128})


# CommonMark: characters that start markup anywhere in a line, and at the start of one.
# An underscore inside a word (snake_case) is literal already; one at a word's edge is not.
_MARKDOWN_INLINE = re.compile(r"([\\`*\[\]<>&~|#]|(?<![^\W_])_|_(?![^\W_]))")
_MARKDOWN_LINE_START = re.compile(r"^(?:([-+=>])|(\d+)([.)]))")


def markdown(text: str) -> str:
    """`text` as literal Markdown (CommonMark, GitHub's flavour): markup characters escaped."""
    text = " ".join(text.split())
    text = _MARKDOWN_INLINE.sub(r"\\\1", text)
    return _MARKDOWN_LINE_START.sub(lambda m: f"\\{m[1]}" if m[1] else f"{m[2]}\\{m[3]}", text)


def code_span(text: str) -> str:
    """`text` as a Markdown code span, whatever backticks it holds."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def shell_quote(value: str) -> str:
    """`value` as one shell word (for the commands printed to resume a set-up)."""
    return shlex.quote(value)


def help_lines(paragraph: str, width: int = 77) -> str:
    """A paragraph of question help in lines that fit an 80-column terminal.

    Copier prints the help after a 3-column mark ("🎤 "), and a prompt cuts a line
    that does not fit instead of wrapping it.
    """
    return "\n".join(wrap(paragraph.split(), width))


def answer_error(value: str, question: str) -> str:
    """The free-text check alone, for questions with no other rule (the description)."""
    return text_error(question, value)


FILTERS = {
    "answer_error": answer_error,
    "shell_quote": shell_quote,
    "help_lines": help_lines,
    "quoted": quoted,
    "docstring": docstring,
    "markdown": markdown,
    "code_span": code_span,
}
