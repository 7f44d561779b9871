"""Fast, hostile-input-safe YAML loading that remembers where every value came from.

The C composer builds the node graph; a small walker (instead of ``yaml.load``'s
constructor) turns it into plain dicts and lists that also record the line and column
(1-based) of every key and value, rejects duplicate keys, and bounds alias expansion.
Round-trip ruamel.yaml is kept for editing files, where it is worth its cost.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import yaml
from yaml import events as ev
from yaml.nodes import MappingNode, Node, ScalarNode

from okectl.errors import Problem

_Parser: Any = getattr(yaml, "CParser", None)
_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

MAX_FILE_BYTES = 2 * 1024 * 1024
MAX_DEPTH = 64
# Counts values after alias expansion, so a "billion laughs" file fails fast instead of
# making every later walk over the data exponential.
MAX_VALUES = 500_000

STR_TAG = "tag:yaml.org,2002:str"
MERGE_TAG = "tag:yaml.org,2002:merge"
TIMESTAMP_TAG = "tag:yaml.org,2002:timestamp"

# (line, col) of the key, (line, col) of the value, and the value's source text when it
# was a plain scalar that YAML turned into something else (so "1.10" can be quoted back).
Mark = tuple[int, int, int, int, str | None]


class YMap(dict[Any, Any]):
    """A mapping that knows the position of itself and of each key and value."""

    __slots__ = ("col", "line", "marks", "raw_keys")

    def __init__(self, line: int, col: int) -> None:
        super().__init__()
        self.line = line
        self.col = col
        self.marks: dict[Any, Mark] = {}
        # Source text of keys that YAML read as something other than text (1.10 → 1.1);
        # rare, so only created when needed.
        self.raw_keys: dict[Any, str] | None = None


class YList(list[Any]):
    """A sequence that knows the position of itself and of each item."""

    __slots__ = ("col", "line", "marks")

    def __init__(self, line: int, col: int) -> None:
        super().__init__()
        self.line = line
        self.col = col
        self.marks: list[tuple[int, int, str | None]] = []


class YamlError(Exception):
    def __init__(self, problem: Problem) -> None:
        super().__init__(str(problem))
        self.problem = problem


_constructor = yaml.constructor.SafeConstructor()


def _construct(tag: str, value: str) -> Any:
    node = ScalarNode(tag, value)
    method = _constructor.yaml_constructors.get(tag)
    if method is None:
        raise ValueError(f"unsupported YAML tag {tag}")
    return method(_constructor, node)


def decode(data: bytes, path: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        before = data[: exc.start]
        line = before.count(b"\n") + 1
        col = exc.start - (before.rfind(b"\n") + 1) + 1
        raise YamlError(Problem(path, line, col, "file is not UTF-8 text; save it as UTF-8")) from None


def _max_depth_exceeded(text: str) -> tuple[int, int] | None:
    """Position of the first collection nested deeper than MAX_DEPTH, if any.

    Only run on texts that could nest deeply: libyaml's composer recurses in C and
    crashes the interpreter somewhere past 20,000 levels, so such input must be refused
    before it gets there. Walking events is slower, but ordinary files never need it.
    """
    depth = 0
    parser = _Parser(text) if _Parser is not None else yaml.SafeLoader(text)
    try:
        while True:
            event = parser.get_event()
            if event is None or isinstance(event, ev.StreamEndEvent):
                return None
            if isinstance(event, (ev.MappingStartEvent, ev.SequenceStartEvent)):
                depth += 1
                mark = event.start_mark
                if depth > MAX_DEPTH and mark is not None:
                    return mark.line + 1, mark.column + 1
            elif isinstance(event, (ev.MappingEndEvent, ev.SequenceEndEvent)):
                depth -= 1
    finally:
        if hasattr(parser, "dispose"):
            parser.dispose()


def _could_nest_deeply(text: str) -> bool:
    # Each level of nesting needs one of these characters (or indentation, which a
    # size-limited file cannot spend on thousands of levels).
    return text.count("[") + text.count("{") + text.count("-") + text.count("?") > 2_000


def _syntax_message(exc: yaml.MarkedYAMLError, text: str) -> str:
    """libyaml's description of a syntax error, with what usually causes it and how to fix it."""
    problem = exc.problem or "malformed YAML"
    context = exc.context or ""
    if "single document" in context:
        return "more than one YAML document in the file; keep one per file"
    cm = exc.context_mark
    where = f"line {cm.line + 1}, column {cm.column + 1}" if cm is not None else ""
    if "cannot start any token" in problem and exc.problem_mark is not None:
        pm = exc.problem_mark
        lines = text.splitlines()
        char = lines[pm.line][pm.column : pm.column + 1] if pm.line < len(lines) else ""
        if char == "\t":
            return "malformed YAML: a tab character; YAML indents with spaces only, replace it with spaces"
        return f"malformed YAML: a plain value cannot start with {char!r}; put the value in quotes"
    if "flow sequence" in context or "flow mapping" in context:
        opener = "[" if "sequence" in context else "{"
        return (
            f"malformed YAML: {problem}; the {opener} at {where} is not closed, "
            "or its items are not separated by commas"
        )
    if "quoted scalar" in context:
        return f"malformed YAML: the quoted text starting at {where} is never closed; add the closing quote"
    if "mapping values are not allowed" in problem:
        return (
            f"malformed YAML: {problem}; put a value that contains ': ' in quotes, "
            "or check the indentation of this line"
        )
    if "undefined alias" in problem:
        return "malformed YAML: an alias (*name) refers to an anchor (&name) that is not defined above it"
    if "block" in context:
        return f"malformed YAML: {problem} ({context} at {where}); check the indentation of this line"
    return f"malformed YAML: {problem}" + (f" ({context} at {where})" if context and where else "")


def load_text(text: str, path: str) -> Any:
    """Parse one YAML document into YMap/YList/scalars; raises YamlError with a location."""
    if text.startswith("\ufeff"):
        text = text[1:]
    if all(not ln.strip() or ln.lstrip().startswith("#") for ln in text.splitlines()):
        raise YamlError(Problem(path, 1, 1, "file is empty; remove it or add its content"))
    try:
        if _could_nest_deeply(text):
            where = _max_depth_exceeded(text)
            if where is not None:
                raise YamlError(
                    Problem(path, *where, f"nested more than {MAX_DEPTH} levels deep; flatten the file")
                )
        root = yaml.compose(text, Loader=_LOADER)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
        raise YamlError(Problem(path, line, col, _syntax_message(exc, text))) from None
    except yaml.YAMLError as exc:
        raise YamlError(Problem(path, 1, 1, f"malformed YAML: {exc}")) from None
    if root is None:
        raise YamlError(Problem(path, 1, 1, "file is empty; remove it or add its content"))
    return _Walker(path).walk(root)


def load_file(file: Path, display: str) -> Any:
    try:
        # O_NONBLOCK: a FIFO put where a file belongs must not wait for a writer.
        fd = os.open(file, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
        with os.fdopen(fd, "rb") as fh:
            info = os.fstat(fh.fileno())
            if not stat.S_ISREG(info.st_mode):
                raise YamlError(
                    Problem(display, 1, 1, "is not a regular file; okectl reads only regular files")
                )
            if info.st_size > MAX_FILE_BYTES:
                raise YamlError(
                    Problem(
                        display,
                        1,
                        1,
                        f"file is {info.st_size:,} bytes, over the limit of {MAX_FILE_BYTES:,}; split it up",
                    )
                )
            data = fh.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise YamlError(Problem(display, 1, 1, f"cannot read file: {exc.strerror}")) from None
    return load_text(decode(data, display), display)


_KNOWN_COLLECTION_TAGS = {"tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"}
_scalar_cache: dict[tuple[str, str], Any] = {}


class _Walker:
    """Turns a composed node graph into YMap/YList trees.

    Aliased nodes are built once and shared, but their expanded size still counts
    against MAX_VALUES, which keeps any later walk over the data bounded.
    """

    __slots__ = ("memo", "path", "values")

    def __init__(self, path: str) -> None:
        self.path = path
        self.values = 0
        self.memo: dict[int, tuple[Any, int]] = {}

    def _fail(self, node: Node, message: str) -> YamlError:
        mark = node.start_mark
        return YamlError(Problem(self.path, mark.line + 1, mark.column + 1, message))

    def _scalar(self, node: Node) -> tuple[Any, str | None]:
        tag = node.tag
        if tag == STR_TAG:
            return node.value, None
        key = (tag, node.value)
        try:
            return _scalar_cache[key], node.value
        except KeyError:
            pass
        try:
            value = _construct(tag, node.value)
        except Exception:
            if tag == TIMESTAMP_TAG:
                # YAML recognised the shape of a date, but not a real one (2025-13-01).
                raise self._fail(
                    node, f"{node.value} is not a valid date; write a real date as YYYY-MM-DD"
                ) from None
            raise self._fail(node, f"unsupported or invalid YAML tag {tag}; remove the tag") from None
        if len(_scalar_cache) < 100_000:
            _scalar_cache[key] = value
        return value, node.value

    def walk(self, node: Node, depth: int = 0) -> Any:
        cls = type(node)
        if cls is ScalarNode:
            self.values += 1
            return self._scalar(node)[0]
        seen = self.memo.get(id(node))
        if seen is not None:
            self.values += seen[1]
            if self.values > MAX_VALUES:
                raise self._fail(
                    node,
                    f"file expands to more than {MAX_VALUES:,} values (aliases used as a YAML bomb?);"
                    " remove the aliases",
                )
            return seen[0]
        if depth >= MAX_DEPTH:
            raise self._fail(node, f"nested more than {MAX_DEPTH} levels deep; flatten the file")
        if node.tag not in _KNOWN_COLLECTION_TAGS:
            raise self._fail(node, f"unsupported YAML tag {node.tag}; remove the tag")
        start = self.values
        mark = node.start_mark
        result: YMap | YList
        if cls is MappingNode:
            result = self._mapping(node, YMap(mark.line + 1, mark.column + 1), depth)
        else:
            result = YList(mark.line + 1, mark.column + 1)
            marks = result.marks
            for item in node.value:
                im = item.start_mark
                if type(item) is ScalarNode:
                    self.values += 1
                    value, raw = self._scalar(item)
                else:
                    value, raw = self.walk(item, depth + 1), None
                result.append(value)
                marks.append((im.line + 1, im.column + 1, raw))
        self.values += 1
        self.memo[id(node)] = (result, self.values - start)
        return result

    def _mapping(self, node: Node, result: YMap, depth: int) -> YMap:
        marks = result.marks
        merges: list[tuple[Node, Any]] = []
        for knode, vnode in node.value:
            if type(knode) is not ScalarNode:
                raise self._fail(knode, "a mapping key must be a plain value, not a collection")
            if knode.tag == MERGE_TAG:
                merges.append((vnode, self.walk(vnode, depth + 1)))
                continue
            key, raw_key = self._scalar(knode)
            if key in marks:
                km = knode.start_mark
                shown = repr(key) if raw_key is None else raw_key
                raise YamlError(
                    Problem(
                        self.path,
                        km.line + 1,
                        km.column + 1,
                        f"duplicate key {shown} (first defined at line {marks[key][0]}); keep only one",
                    )
                )
            if raw_key is not None:
                if result.raw_keys is None:
                    result.raw_keys = {}
                result.raw_keys[key] = raw_key
            if type(vnode) is ScalarNode:
                self.values += 1
                value, raw = self._scalar(vnode)
            else:
                value, raw = self.walk(vnode, depth + 1), None
            km, vm = knode.start_mark, vnode.start_mark
            result[key] = value
            marks[key] = (km.line + 1, km.column + 1, vm.line + 1, vm.column + 1, raw)
        # Keys written in the mapping itself win over merged ones, as YAML specifies.
        for vnode, merged in merges:
            for source in merged if isinstance(merged, list) else [merged]:
                if not isinstance(source, YMap):
                    raise self._fail(vnode, "'<<' merges only mappings")
                for k, v in source.items():
                    if k not in result:
                        result[k] = v
                        marks[k] = source.marks[k]
                        if source.raw_keys is not None and k in source.raw_keys:
                            if result.raw_keys is None:
                                result.raw_keys = {}
                            result.raw_keys[k] = source.raw_keys[k]
        return result


def locate(data: Any, loc: tuple[Any, ...], *, key: bool = False) -> tuple[int, int]:
    """Line and column of the value at ``loc`` in a loaded tree (of its key when ``key``).

    Walks as far as the path exists, so an error about a missing field points at the
    mapping that should hold it.
    """
    node = data
    line, col = getattr(data, "line", 1), getattr(data, "col", 1)
    for i, part in enumerate(loc):
        last = i == len(loc) - 1
        if isinstance(node, YMap) and part not in node.marks:
            part = _key_named(node, part)
        if isinstance(node, YMap) and part in node.marks:
            kl, kc, vl, vc, _ = node.marks[part]
            line, col = (kl, kc) if (key and last) else (vl, vc)
            node = node[part]
        elif isinstance(node, YList) and isinstance(part, int) and 0 <= part < len(node):
            line, col, _ = node.marks[part]
            node = node[part]
        else:
            break
    return line, col


def raw_key(data: Any, loc: tuple[Any, ...]) -> str | None:
    """The source text of the last key in ``loc`` when YAML read it as a non-string."""
    node = data
    for part in loc[:-1]:
        if isinstance(node, YMap):
            node = node.get(_key_named(node, part))
        elif isinstance(node, YList):
            try:
                node = node[part]
            except (KeyError, IndexError, TypeError):
                return None
        else:
            return None
    if isinstance(node, YMap) and node.raw_keys is not None and loc:
        return node.raw_keys.get(_key_named(node, loc[-1]))
    return None


def _key_named(node: YMap, part: Any) -> Any:
    # Validation errors name a non-text key by its str() (1.1 → "1.1"); find the real key.
    if node.raw_keys is not None:
        for key in node.raw_keys:
            if str(key) == part:
                return key
    return part


def raw_text(data: Any, loc: tuple[Any, ...]) -> str | None:
    """The source text of the scalar at ``loc`` when YAML read it as a non-string."""
    node = data
    for i, part in enumerate(loc):
        last = i == len(loc) - 1
        if isinstance(node, YMap) and part in node.marks:
            if last:
                return node.marks[part][4]
            node = node[part]
        elif isinstance(node, YList) and isinstance(part, int) and 0 <= part < len(node):
            if last:
                return node.marks[part][2]
            node = node[part]
        else:
            return None
    return None
