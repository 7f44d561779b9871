"""Shell completion for bash, zsh and fish, as the README tells users to set it up.

okectl runs in a subprocess as the shells run it: an `okectl` on PATH, with `_OKECTL_COMPLETE`
asking for the script (`<shell>_source`) or for the candidates (`<shell>_complete`, the words
typed so far in COMP_WORDS and COMP_CWORD). The bash script is also run in bash for real.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.repos import PROJECT

SHELLS = ("bash", "zsh", "fish")


@pytest.fixture(scope="module")
def bin_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with an `okectl` that runs this source tree, to put first on PATH."""
    folder = tmp_path_factory.mktemp("bin")
    okectl = folder / "okectl"
    okectl.write_text(f'#!/bin/sh\nPYTHONPATH="{PROJECT}" exec "{sys.executable}" -m okectl "$@"\n')
    okectl.chmod(0o755)
    return folder


def _okectl(bin_dir: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["okectl"],
        env={"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _candidates(bin_dir: Path, shell: str, words: str) -> list[str]:
    """The values okectl proposes for the last (incomplete) word, through `shell`'s protocol."""
    split = words.split(" ")
    # bash and zsh pass the index of the current word, fish the current word itself.
    cword = split[-1] if shell == "fish" else str(len(split) - 1)
    result = _okectl(bin_dir, _OKECTL_COMPLETE=f"{shell}_complete", COMP_WORDS=words, COMP_CWORD=cword)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    if shell == "zsh":  # type, value, help: three lines per candidate
        return [lines[i + 1] for i in range(0, len(lines), 3) if lines[i] == "plain"]
    # bash: "type,value"; fish: "type,value<TAB>help"
    return [line.split(",", 1)[1].split("\t")[0] for line in lines if line.startswith("plain,")]


SCRIPT_MARKS = {
    "bash": "complete -o nosort -F _okectl_completion okectl",
    "zsh": "#compdef okectl",
    "fish": 'complete --no-files --command okectl --arguments "(_okectl_completion)"',
}


@pytest.mark.parametrize("shell", SHELLS)
def test_each_shell_gets_its_completion_script(bin_dir: Path, shell: str) -> None:
    result = _okectl(bin_dir, _OKECTL_COMPLETE=f"{shell}_source")

    assert result.returncode == 0, result.stderr
    assert SCRIPT_MARKS[shell] in result.stdout
    assert f"_OKECTL_COMPLETE={shell}_complete" in result.stdout


@pytest.mark.parametrize("shell", SHELLS)
def test_completing_pl_proposes_plan(bin_dir: Path, shell: str) -> None:
    assert _candidates(bin_dir, shell, "okectl pl") == ["plan"]


@pytest.mark.parametrize("shell", SHELLS)
def test_subcommands_and_options_complete_too(bin_dir: Path, shell: str) -> None:
    assert _candidates(bin_dir, shell, "okectl sandbox s") == ["seed", "serve"]
    assert _candidates(bin_dir, shell, "okectl plan --sch") == ["--school"]
    assert "validate" in _candidates(bin_dir, shell, "okectl ")


@pytest.mark.parametrize("shell", SHELLS)
def test_the_readme_shows_the_setup_for_each_shell(shell: str) -> None:
    readme = (PROJECT / "README.md").read_text(encoding="utf-8")

    assert f"_OKECTL_COMPLETE={shell}_source okectl" in readme


def test_the_bash_script_completes_in_bash(bin_dir: Path) -> None:
    bash = shutil.which("bash")
    assert bash is not None
    # The README's line for ~/.bashrc, then what bash does on a Tab after "okectl pl".
    typed = "\n".join(
        [
            'eval "$(_OKECTL_COMPLETE=bash_source okectl)"',
            "complete -p okectl",
            "COMP_WORDS=(okectl pl); COMP_CWORD=1",
            "_okectl_completion okectl",
            'printf "%s\\n" "${COMPREPLY[@]}"',
        ]
    )

    result = subprocess.run(
        [bash, "--noprofile", "--norc", "-c", typed],
        env={"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["complete -o nosort -F _okectl_completion okectl", "plan"]
