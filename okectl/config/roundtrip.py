"""Round-trip YAML for editing files people wrote: comments, key order and quoting kept."""

from __future__ import annotations

from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.scalarstring import DoubleQuotedScalarString


def roundtrip_yaml() -> YAML:
    # Slower than the loader used for reading, but it keeps everything it does not touch.
    y = YAML(typ="rt")
    y.preserve_quotes = True
    y.width = 4096
    y.indent(mapping=2, sequence=4, offset=2)
    return y


# Plain scalars that YAML 1.1 would read as booleans: written quoted so they stay text.
_BOOLEAN_WORDS = {"y", "n", "yes", "no", "on", "off", "true", "false"}


def plain_text(value: str) -> str:
    """Text as written into a file: quoted where YAML 1.1 would read it as a boolean."""
    return DoubleQuotedScalarString(value) if value.lower() in _BOOLEAN_WORDS else value


def flow_seq(items: list[Any]) -> CommentedSeq:
    """A list written on one line, ``[a, b]``."""
    seq = CommentedSeq(items)
    seq.fa.set_flow_style()
    return seq


def flow_map(data: dict[str, Any]) -> CommentedMap:
    """A mapping written on one line, ``{key: value}``."""
    m = CommentedMap(data)
    m.fa.set_flow_style()
    return m
