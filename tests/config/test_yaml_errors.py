"""Files that are not well-formed YAML text: one clear line each, never a crash."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from okectl.config.yamlsource import MAX_FILE_BYTES

BuildRepo = Callable[..., Path]
Problems = Callable[[Path], list[str]]


def test_malformed_yaml_points_at_the_unclosed_bracket(repo: BuildRepo, problems: Problems) -> None:
    root = repo({"environments/standard.yaml": "id: standard\nenvironments: [production\n"})
    assert problems(root) == [
        "environments/standard.yaml:3:1: malformed YAML: did not find expected ',' or ']'; "
        "the [ at line 2, column 15 is not closed, or its items are not separated by commas"
    ]


def test_unclosed_quote(repo: BuildRepo, problems: Problems) -> None:
    root = repo({"environments/standard.yaml": 'id: standard\nname: "Standard\n'})
    assert problems(root) == [
        "environments/standard.yaml:3:1: malformed YAML: the quoted text starting at line 2, column 7 "
        "is never closed; add the closing quote"
    ]


def test_tab_indentation(repo: BuildRepo, problems: Problems) -> None:
    root = repo({"environments/standard.yaml": "id: standard\nenvironments:\n\tproduction: {type: test}\n"})
    assert problems(root) == [
        "environments/standard.yaml:3:1: malformed YAML: a tab character; "
        "YAML indents with spaces only, replace it with spaces"
    ]


def test_value_containing_colon_space(repo: BuildRepo, problems: Problems) -> None:
    root = repo({"environments/standard.yaml": "id: standard\nname: Standard: the default\n"})
    assert problems(root) == [
        "environments/standard.yaml:2:15: malformed YAML: mapping values are not allowed in this context; "
        "put a value that contains ': ' in quotes, or check the indentation of this line"
    ]


def test_two_documents_in_one_file(repo: BuildRepo, problems: Problems) -> None:
    root = repo({"environments/standard.yaml": "id: standard\n---\nid: other\n"})
    assert problems(root) == [
        "environments/standard.yaml:2:1: more than one YAML document in the file; keep one per file"
    ]


def test_duplicate_key(repo: BuildRepo, problems: Problems) -> None:
    root = repo(
        {
            "suppliers/delta.yaml": """
                id: delta
                name: Delta
                roles: [ta]
                name: Delta Toets
                flows: [0, 2, 3, 4]
                """
        }
    )
    assert problems(root) == [
        "suppliers/delta.yaml:4:1: duplicate key 'name' (first defined at line 2); keep only one"
    ]


def test_duplicate_key_in_a_nested_mapping(repo: BuildRepo, problems: Problems) -> None:
    root = repo(
        {
            "environments/standard.yaml": """
                id: standard
                environments:
                  production: {type: production}
                  production: {type: acceptance}
                """
        }
    )
    assert problems(root) == [
        "environments/standard.yaml:4:3: duplicate key 'production' (first defined at line 3); keep only one"
    ]


def test_undefined_alias(repo: BuildRepo, problems: Problems) -> None:
    root = repo({"environments/standard.yaml": "id: standard\nname: *missing\n"})
    assert problems(root) == [
        "environments/standard.yaml:2:7: malformed YAML: an alias (*name) refers to an anchor (&name) "
        "that is not defined above it"
    ]


def test_python_tags_are_refused(repo: BuildRepo, problems: Problems) -> None:
    root = repo({"environments/standard.yaml": "id: standard\nname: !!python/object/apply:os.system [ls]\n"})
    assert problems(root) == [
        "environments/standard.yaml:2:7: unsupported YAML tag "
        "tag:yaml.org,2002:python/object/apply:os.system; remove the tag"
    ]


def test_alias_bomb_fails_fast_with_a_clear_message(repo: BuildRepo, problems: Problems) -> None:
    # Nine levels of ten aliases each: a billion values once expanded. The error points at
    # the collection whose expansion crosses the limit.
    lines = ["id: standard", "a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for level in range(1, 9):
        refs = ", ".join([f"*a{level - 1}"] * 10)
        lines.append(f"a{level}: &a{level} [{refs}]")
    root = repo({"environments/standard.yaml": "\n".join(lines) + "\n"})
    started = time.perf_counter()
    found = problems(root)
    assert time.perf_counter() - started < 2
    assert found == [
        "environments/standard.yaml:6:5: file expands to more than 500,000 values "
        "(aliases used as a YAML bomb?); remove the aliases"
    ]


def test_deep_nesting_is_refused(repo: BuildRepo, problems: Problems) -> None:
    root = repo({"environments/standard.yaml": "id: standard\nname: " + "[" * 70 + "]" * 70 + "\n"})
    assert problems(root) == [
        "environments/standard.yaml:2:70: nested more than 64 levels deep; flatten the file"
    ]


def test_extreme_nesting_does_not_crash_the_interpreter(repo: BuildRepo, tmp_path: Path) -> None:
    # libyaml's composer recurses in C: this depth would overflow the C stack if it got there.
    # A subprocess proves there is no segfault (a crash here would take pytest down with it).
    root = repo(
        {
            "environments/standard.yaml": "id: standard\nname: " + "[" * 400_000 + "]" * 400_000 + "\n",
            "environments/minimal.yaml": "id: minimal\nname:\n  " + "- " * 300_000 + "x\n",
        }
    )
    script = textwrap.dedent(
        f"""
        import sys
        from okectl.cli import main
        sys.exit(main(["validate", "--repo", {str(root)!r}]))
        """
    )
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert time.perf_counter() - started < 10
    assert done.returncode == 1, done.stderr
    assert done.stderr.splitlines() == [
        "environments/minimal.yaml:3:129: nested more than 64 levels deep; flatten the file",
        "environments/standard.yaml:2:70: nested more than 64 levels deep; flatten the file",
    ]


def test_file_over_the_size_limit(repo: BuildRepo, problems: Problems) -> None:
    padding = "# " + "x" * 100 + "\n"
    text = "id: standard\n" + padding * (MAX_FILE_BYTES // len(padding) + 1)
    root = repo({"environments/standard.yaml": text})
    size = (root / "environments/standard.yaml").stat().st_size
    assert problems(root) == [
        f"environments/standard.yaml:1:1: file is {size:,} bytes, over the limit of 2,097,152; split it up"
    ]


def test_empty_file(repo: BuildRepo, problems: Problems) -> None:
    root = repo({"environments/standard.yaml": ""})
    assert problems(root) == ["environments/standard.yaml:1:1: file is empty; remove it or add its content"]


def test_file_with_only_comments_is_empty(repo: BuildRepo, problems: Problems) -> None:
    root = repo({"environments/standard.yaml": "# to do\n\n# later\n"})
    assert problems(root) == ["environments/standard.yaml:1:1: file is empty; remove it or add its content"]


def test_file_that_is_not_utf8(repo: BuildRepo, problems: Problems) -> None:
    root = repo()
    (root / "suppliers/delta.yaml").write_bytes(
        "id: delta\nname: Delta Caf\u00e9\nroles: [ta]\nflows: [0]\n".encode("latin-1")
    )
    assert problems(root) == ["suppliers/delta.yaml:2:16: file is not UTF-8 text; save it as UTF-8"]


def test_utf8_byte_order_mark_is_accepted(repo: BuildRepo, cli: Callable[..., Any]) -> None:
    root = repo()
    path = root / "environments/standard.yaml"
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    assert cli("validate", "--repo", str(root)).exit_code == 0
