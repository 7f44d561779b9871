"""The lists that keep other tools' credentials out of {env:} references hold together."""

from __future__ import annotations

import pytest

from okectl.model.secrets import (
    CREDENTIAL_NAMES,
    DEFAULT_ENV_PATTERNS,
    DENIED_VARIABLES,
    denied_owner,
    env_pattern_problem,
)


@pytest.mark.parametrize("name", CREDENTIAL_NAMES)
def test_every_well_known_credential_is_refused_by_name_in_any_case(name: str) -> None:
    assert denied_owner(name) is not None
    assert denied_owner(name.lower()) == denied_owner(name)


def test_the_defaults_pass_their_own_check_and_reach_no_credential() -> None:
    assert [env_pattern_problem(p) for p in DEFAULT_ENV_PATTERNS] == [None, None]
    # *_SECRET matches these; they are refused by name.
    for name in ("ARM_CLIENT_SECRET", "AZURE_CLIENT_SECRET", "GOOGLE_CLIENT_SECRET", "GITHUB_CLIENT_SECRET"):
        assert denied_owner(name) is not None, name


@pytest.mark.parametrize(
    "pattern", ["*_SECRET", "OKECTL_SECRET_*", "DELTA_*", "DELTA_*_SECRET", "*_OKE_SECRET"]
)
def test_patterns_that_name_okectls_own_variables_are_accepted(pattern: str) -> None:
    assert env_pattern_problem(pattern) is None


def test_every_denied_pattern_says_whose_it_is() -> None:
    assert all(owner and pattern == pattern.upper() for pattern, owner in DENIED_VARIABLES)
