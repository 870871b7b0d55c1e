"""Duplicate mapping keys in a composed YAML document.

YAML loaders keep the last of two equal keys without a word, so a rulebook with two
``authority:`` sections would silently lose the first. Rulebooks refuse them instead.
"""

from __future__ import annotations

import yaml


def duplicate_keys(
    node: yaml.Node | None, path: tuple[int | str, ...] = ()
) -> list[tuple[tuple[int | str, ...], int]]:
    """``(path of the repeated key, 1-based line of the repeat)`` for every mapping key that
    appears again in its mapping, anywhere under ``node``."""
    found: list[tuple[tuple[int | str, ...], int]] = []
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key, value in node.value:
            name = str(key.value)
            if name in seen:
                found.append(((*path, name), key.start_mark.line + 1))
            seen.add(name)
            found += duplicate_keys(value, (*path, name))
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            found += duplicate_keys(item, (*path, i))
    return found
