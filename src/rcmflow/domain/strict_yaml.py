"""YAML for policy files: safe loading that refuses duplicate keys.

PyYAML keeps the last of two equal keys silently; in a policy file (two "99213" fees, two rules with one
id) that hides a mistake, so the duplicate is a load error with its line.
"""

from __future__ import annotations

from typing import Any

import yaml


class StrictLoader(yaml.SafeLoader):
    """SafeLoader (no arbitrary objects) that refuses duplicate mapping keys."""


def _mapping_without_duplicates(loader: StrictLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    seen: set[str] = set()
    for key_node, _ in node.value:
        if isinstance(key_node, yaml.ScalarNode):
            if key_node.value in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key_node.value!r}", key_node.start_mark)
            seen.add(key_node.value)
    return loader.construct_mapping(node, deep=True)


StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping_without_duplicates)


def load_strict(text: str) -> Any:
    """Parse YAML text; ``yaml.YAMLError`` (with its line) on bad YAML or a duplicate key."""
    return yaml.load(text, Loader=StrictLoader)  # noqa: S506 - a SafeLoader subclass


def quoted(value: Any, what: str = "codes and ids") -> Any:
    """Pydantic before-validator for codes and identifiers: an unquoted YAML number (a payer id 00590, a
    ZIP code) has already lost its leading zeros, so it is refused rather than guessed back."""
    if isinstance(value, bool) or isinstance(value, int | float):
        raise ValueError(f"quote {what} ({value!r} reads as a number and loses leading zeros)")
    return value
