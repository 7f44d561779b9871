"""Round-trip YAML for editing files people wrote: comments, key order and quoting kept."""

from __future__ import annotations

from ruamel.yaml import YAML


def roundtrip_yaml() -> YAML:
    # Slower than the loader used for reading, but it keeps everything it does not touch.
    y = YAML(typ="rt")
    y.preserve_quotes = True
    y.width = 4096
    y.indent(mapping=2, sequence=4, offset=2)
    return y
