"""The README's environment-file reference, written from the declarations in config/environment.py.

Every key, default, example and comment of the README's "Environment files" block comes from the
fields of the environment dataclasses (their `doc()` metadata), so it cannot drift from the loader.
`python -m publik_acceptance.config.reference` rewrites the block between the env-reference markers of
README.md; `--check` only says whether it is up to date (selftests/unit/test_config_reference.py does too).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import types
from collections.abc import Iterator
from dataclasses import Field, dataclass, is_dataclass
from pathlib import Path
from typing import Any, Union, get_args, get_origin, get_type_hints

import yaml

from publik_acceptance.config.environment import Environment
from publik_acceptance.config.schema import declared, has_default, key_of

README = Path(__file__).resolve().parents[2] / "README.md"
START = "<!-- env-reference:start -->"
END = "<!-- env-reference:end -->"
# Comments start in this column; a run of longer lines aligns its comments just past the longest one.
COMMENT_COLUMN = 31


@dataclass(frozen=True)
class Line:
    indent: int
    text: str  # "key: value", "key:", "- key: value", or "" for a line that is only a comment
    doc: str = ""


def reference() -> str:
    """The README block: the YAML reference between its fences."""
    return "```yaml\n" + "\n".join(layout(_top(Environment))) + "\n```\n"


def _top(cls: type) -> Iterator[Line | None]:
    """Top-level keys, a blank line around each one that spans several lines."""
    previous: list[Line] = []
    for entry in _entries(cls, 0):
        if previous and (len(previous) > 1 or len(entry) > 1):
            yield None
        yield from entry
        previous = entry


def _entries(cls: type, indent: int) -> Iterator[list[Line]]:
    """The lines of each key of a section; keys declared as `parent.child` share their parent's line."""
    hints = get_type_hints(cls)
    group: list[Line] = []
    parent = ""
    for f in declared(cls):
        key = key_of(f)
        if "." in key:
            head, _, child = key.partition(".")
            if head != parent:
                if group:
                    yield group
                group, parent = [Line(indent, f"{head}:")], head
            group += _key(f, child, hints[f.name], indent + 2)
            continue
        if group:
            yield group
        group, parent = [], ""
        yield _key(f, key, hints[f.name], indent)
    if group:
        yield group


def _section(cls: type, indent: int) -> list[Line]:
    return [line for entry in _entries(cls, indent) for line in entry]


def _key(f: Field[Any], key: str, hint: Any, indent: int) -> list[Line]:
    example, doc = f.metadata["example"], f.metadata["doc"]
    if isinstance(example, tuple):  # the lines of a mapping, e.g. servers by role
        return [Line(indent, f"{key}:", doc), *(Line(indent + 2, text, note) for text, note in example)]
    if example is not None:
        return [Line(indent, f"{key}: {example}", doc)]
    inner = _documented_section(hint)
    if inner is not None:
        head = Line(indent, f"{key}:", doc)
        if get_origin(hint) is tuple:  # a list of sections: one item shown
            first, *rest = _section(inner, indent + 4)
            return [head, Line(indent + 2, f"- {first.text}", first.doc), *rest]
        if get_origin(hint) is dict:  # sections by name: one shown under a sample name
            return [head, Line(indent + 2, f"{f.metadata['example_key']}:"), *_section(inner, indent + 4)]
        return [head, *_section(inner, indent + 2)]
    if not has_default(f):
        raise ValueError(f"{key}: a required key needs an example for the README")
    return [Line(indent, f"{key}: {scalar(f.default)}", doc)]


def _documented_section(hint: Any) -> type | None:
    """The settings dataclass a key holds (alone, optional, in a tuple or by name) when its own keys are
    documented: such a section is shown key by key, any other as its default (`null`, `[]`)."""
    candidates = get_args(hint) if get_origin(hint) in (tuple, dict, Union, types.UnionType) else (hint,)
    for candidate in candidates:
        if is_dataclass(candidate) and any(
            f.metadata["doc"] or f.metadata["example"] is not None for f in declared(candidate)
        ):
            return candidate
    return None


def scalar(value: Any) -> str:
    """A default as the README writes it: YAML flow style, quotes only where YAML needs them or spaces are."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, tuple | list):
        return "[" + ", ".join(scalar(item) for item in value) + "]"
    text = str(value)
    if re.fullmatch(r"[A-Za-z0-9_./-]+", text) and yaml.safe_load(text) == text:
        return text
    return json.dumps(text, ensure_ascii=False)


def layout(lines: Iterator[Line | None]) -> Iterator[str]:
    """Lines as text, comments in COMMENT_COLUMN; a run of longer lines shares a column past its longest."""
    items = list(lines)
    texts = ["" if line is None else " " * line.indent + line.text for line in items]
    columns: list[int] = []
    run: list[int] = []
    for i, line in enumerate(items):
        long = line is not None and bool(line.text) and bool(line.doc) and len(texts[i]) > COMMENT_COLUMN - 2
        if long:
            run.append(i)
        columns.append(COMMENT_COLUMN)
        if run and (not long or i == len(items) - 1):
            width = max(len(texts[j]) for j in run) + 3
            for j in run:
                columns[j] = width
            run = []
    for i, line in enumerate(items):
        if line is None:
            yield ""
            continue
        first, *more = line.doc.split("\n") if line.doc else [""]
        if not line.text:
            yield " " * line.indent + f"# {first}"
        elif first:
            yield texts[i].ljust(columns[i]) + f"# {first}"
        else:
            yield texts[i]
        for continuation in more:
            yield " " * COMMENT_COLUMN + f"# {continuation}"


def replace_block(readme: str, block: str) -> str:
    """README text with the block between the markers replaced."""
    start, end = readme.find(START), readme.find(END)
    if start < 0 or end < start:
        raise ValueError(f"README has no {START} … {END} markers around the environment reference")
    return readme[: start + len(START)] + "\n" + block + readme[end:]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report whether README.md is up to date")
    args = parser.parse_args(argv)
    current = README.read_text(encoding="utf-8")
    wanted = replace_block(current, reference())
    if current == wanted:
        print(f"{README.name}: environment reference up to date")
        return 0
    if args.check:
        print(f"{README.name}: environment reference out of date; run python -m publik_acceptance.config.reference",
              file=sys.stderr)
        return 1
    README.write_text(wanted, encoding="utf-8")
    print(f"{README.name}: environment reference rewritten")
    return 0


if __name__ == "__main__":
    sys.exit(main())
