"""Putting a state into the sandbox: a seed file, or a repository's desired state as applied.

Seed file format (YAML)::

    dev_credential: true            # optional; false switches the built-in okectl-dev off
    suppliers:
      delta-toets:
        contact_email: support@delta.example        # shown in OOAPI service documents
        credentials:                                # besides okectl-dev (which sees every tenant)
          - {client_id: school-21rc, client_secret: example-secret, tenants: [21RC]}
          - {client_id: adoption-team, client_secret: other-secret, tenants: ["*"]}
        releases:
          - {product_version: "2025.2", oke_versions: ["1.0"], released: 2025-02-01,
             end_of_support: 2026-08-01, notes_url: "https://delta.example/releases/2025.2"}
        tenants:
          21RC:                                     # school code
            production:                             # environment name
              type: production
              oke_version: "1.0"
              ...                                   # the environment fields of the API
              labels: {managed-by: okectl, okectl/repository: example}
              clients:
                eduplan: {client_id: eduplan-21rc, scopes: [...], secret: a-value}
              roles:
                assessor: {name: Beoordelaar, groups: [21rc-docenten]}

A client's ``secret`` is stored only as its fingerprint; ``secret_fingerprint`` may be given
instead.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable, Iterable
from functools import partial
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from okectl.config.yamlsource import YamlError, load_file, locate
from okectl.errors import OkectlError
from okectl.model.resources import LABEL_COMMIT, LABEL_REPOSITORY, MANAGED_BY, MANAGED_BY_VALUE, Resource
from okectl.sandbox.admin import BODIES, NAME_RE, SCHOOL_RE, SUPPLIER_RE
from okectl.sandbox.store import Key, Store, build_doc, bulk_insert, now_iso

# What a database records about how it was seeded: when, from what (in words, for
# messages), and the seed file's digest (to tell whether another seed is the same one). A
# database with a record is never seeded again, except by `okectl sandbox seed`, which
# resets it: seeding on top of what serve, apply or another seed wrote would mix them.
SEEDED = "seeded"
SEEDED_FROM = "seeded_from"
SEED_DIGEST = "seed_sha256"
NOTHING = "nothing (it started empty)"
RESET = "okectl sandbox seed"


Loc = tuple[Any, ...]


class SeedMismatch(OkectlError):
    """A database holds something other than what this run would seed it with."""


class SeedError(OkectlError):
    """The seed file cannot be loaded. `loc` is where in the seed the problem is."""

    def __init__(self, message: str, loc: Loc | None = None, *, key: bool = False) -> None:
        super().__init__(message)
        self.loc = loc
        self.key = key  # the problem is the key at `loc`, not its value


def _plain(value: Any) -> Any:
    # YAML reads unquoted dates as dates; the API speaks ISO strings.
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _mapping(value: Any, where: str, loc: Loc) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise SeedError(f"{where}: expected a mapping", loc)
    return value


def _list(value: Any, where: str, loc: Loc) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise SeedError(f"{where}: expected a list", loc)
    return value


def read_seed(path: Path) -> Any:
    """The seed's YAML, positions kept for error messages; syntax errors, duplicate keys
    and hostile files are reported with their line and column."""
    try:
        return load_file(path, str(path))
    except YamlError as exc:
        raise SeedError(str(exc.problem)) from None


def _checked(kind: str, fields: dict[str, Any], where: str, at: Loc) -> dict[str, Any]:
    model = BODIES["environment" if kind == "environment" else "client" if kind == "client" else "role"]
    fingerprint = fields.pop("secret_fingerprint", None) if kind == "client" else None
    try:
        body = model.model_validate(fields).model_dump()
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first["loc"])
        raise SeedError(f"{where}.{loc}: {first['msg']}", (*at, *first["loc"])) from None
    if fingerprint is not None:
        body["secret_fingerprint"] = fingerprint
    return body


def _release(value: Any, where: str, loc: Loc) -> dict[str, Any]:
    release = _mapping(value, where, loc)
    unknown = set(release) - {"product_version", "oke_versions", "released", "end_of_support", "notes_url"}
    if unknown or "product_version" not in release:
        raise SeedError(
            f"{where}: a release has product_version, oke_versions, released, end_of_support, notes_url",
            (*loc, min(unknown)) if unknown else loc,
            key=bool(unknown),
        )
    return {
        "product_version": str(release["product_version"]),
        "oke_versions": [str(v) for v in release.get("oke_versions") or []],
        "released": release.get("released"),
        "end_of_support": release.get("end_of_support"),
        "notes_url": release.get("notes_url"),
    }


def seed_data(store: Store, data: dict[str, Any], *, source: str = "seed", reset: bool = False) -> int:
    """Load a parsed seed into the store; returns the number of resources written. With
    ``reset``, whatever the store held is removed first (once the seed has been checked)."""
    ops: list[Callable[[], None]] = []
    if "dev_credential" in data:
        ops.append(partial(store.set_meta, "dev_credential", "true" if data["dev_credential"] else "false"))
    unknown = set(data) - {"dev_credential", "suppliers"}
    if unknown:
        raise SeedError(
            f"{source}: unknown key(s) {', '.join(sorted(unknown))}; expected suppliers",
            (min(unknown),),
            key=True,
        )
    docs: list[tuple[Key, dict[str, Any]]] = []
    stamp = now_iso()
    for sid, sup in _mapping(data.get("suppliers"), f"{source}: suppliers", ("suppliers",)).items():
        where = f"{source}: suppliers.{sid}"
        at: Loc = ("suppliers", sid)
        if not SUPPLIER_RE.fullmatch(sid):
            raise SeedError(f"{where}: a supplier id is lower-case letters, digits and dashes", at, key=True)
        sup = _mapping(sup, where, at)
        extra = set(sup) - {"contact_email", "credentials", "releases", "tenants"}
        if extra:
            raise SeedError(
                f"{where}: unknown key(s) {', '.join(sorted(extra))}", (*at, min(extra)), key=True
            )
        ops.append(partial(store.set_supplier, sid, contact_email=sup.get("contact_email")))
        for i, cred in enumerate(_list(sup.get("credentials"), f"{where}.credentials", (*at, "credentials"))):
            try:
                client_id, secret, tenants = cred["client_id"], cred["client_secret"], cred["tenants"]
                if not (isinstance(client_id, str) and isinstance(secret, str) and isinstance(tenants, list)):
                    raise TypeError
                ops.append(partial(store.add_credential, sid, client_id, secret, [str(t) for t in tenants]))
            except (KeyError, TypeError):
                raise SeedError(
                    f"{where}.credentials[{i}]: needs client_id, client_secret and tenants",
                    (*at, "credentials", i),
                ) from None
        if "releases" in sup:
            releases = _list(sup["releases"], f"{where}.releases", (*at, "releases"))
            checked = [
                _release(r, f"{where}.releases[{i}]", (*at, "releases", i)) for i, r in enumerate(releases)
            ]
            ops.append(partial(store.set_releases, sid, checked))
        for school, envs in _mapping(sup.get("tenants"), f"{where}.tenants", (*at, "tenants")).items():
            tat: Loc = (*at, "tenants", school)
            if not SCHOOL_RE.fullmatch(school):
                raise SeedError(
                    f"{where}.tenants.{school}: a tenant is a school code such as 25BE", tat, key=True
                )
            ops.append(partial(store.add_tenant, sid, school))
            for env_name, env in _mapping(envs, f"{where}.tenants.{school}", tat).items():
                ewhere = f"{where}.tenants.{school}.{env_name}"
                eat: Loc = (*at, "tenants", school, env_name)
                if not NAME_RE.fullmatch(env_name):
                    raise SeedError(
                        f"{ewhere}: an environment name is lower-case letters, digits and dashes",
                        eat,
                        key=True,
                    )
                env = dict(_mapping(env, ewhere, eat))
                clients = _mapping(env.pop("clients", None), f"{ewhere}.clients", (*eat, "clients"))
                roles = _mapping(env.pop("roles", None), f"{ewhere}.roles", (*eat, "roles"))
                body = _checked("environment", env, ewhere, eat)
                labels = body.pop("labels")
                docs.append(
                    (
                        Key(sid, school, env_name),
                        build_doc(Key(sid, school, env_name), body, labels, None, timestamp=stamp),
                    )
                )
                for system, client in clients.items():
                    key = Key(sid, school, env_name, "client", system)
                    cat: Loc = (*eat, "clients", system)
                    if not NAME_RE.fullmatch(str(system)):
                        raise SeedError(
                            f"{ewhere}.clients: a system name is lower-case letters, digits and dashes",
                            cat,
                            key=True,
                        )
                    fields = dict(_mapping(client, f"{ewhere}.clients.{system}", cat))
                    body = _checked("client", fields, f"{ewhere}.clients.{system}", cat)
                    labels = body.pop("labels")
                    secret = body.pop("secret", None)
                    fp = body.pop("secret_fingerprint", None)
                    doc = build_doc(key, body, labels, None, secret=secret, timestamp=stamp)
                    if fp is not None and secret is None:
                        doc["secret_fingerprint"] = fp
                    docs.append((key, doc))
                for role, binding in roles.items():
                    key = Key(sid, school, env_name, "role", role)
                    rat: Loc = (*eat, "roles", role)
                    if not NAME_RE.fullmatch(str(role)):
                        raise SeedError(
                            f"{ewhere}.roles: a role name is lower-case letters, digits and dashes",
                            rat,
                            key=True,
                        )
                    fields = dict(_mapping(binding, f"{ewhere}.roles.{role}", rat))
                    body = _checked("role", fields, f"{ewhere}.roles.{role}", rat)
                    labels = body.pop("labels")
                    docs.append((key, build_doc(key, body, labels, None, timestamp=stamp)))
    # Written only once the whole seed has been checked: a mistake leaves the store as it was.
    if reset:
        store.clear()
    for op in ops:
        op()
    bulk_insert(store, docs)
    store.set_meta(SEEDED, stamp)
    return len(docs)


def _digest(path: Path) -> str:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError as exc:
        raise SeedError(f"{path}: cannot read the seed file ({exc.strerror or exc})") from None


def _record(store: Store, what: str, digest: str = "") -> None:
    store.set_meta(SEEDED_FROM, what)
    store.set_meta(SEED_DIGEST, digest)
    if store.get_meta(SEEDED) is None:
        store.set_meta(SEEDED, now_iso())


def seed_file(store: Store, path: Path, *, reset: bool = False) -> int:
    """Load the seed at ``path`` and record it; with ``reset``, in place of what the store held."""
    tree = read_seed(path)
    source = str(path)
    digest = _digest(path)
    try:
        count = seed_data(store, _mapping(_plain(tree), source, ()), source=source, reset=reset)
    except SeedError as exc:
        if exc.loc is None or not str(exc).startswith(f"{source}: "):
            raise
        line, col = locate(tree, exc.loc, key=exc.key)
        raise SeedError(f"{source}:{line}:{col}: {str(exc)[len(source) + 2 :]}") from None
    _record(store, str(path.resolve()), digest)
    return count


def open_store(
    db_path: Path | str, seed: Path | None = None, *, insist: bool = False, reset: str = RESET
) -> Store:
    """The store at db_path; a new database is seeded from ``seed`` (or recorded as started
    empty), and one that was seeded before is used as it is, never seeded on top of.

    A database holding data with no record of its seeding is refused when there is a seed to
    load, and so, with ``insist`` (a seed asked for by name), is one seeded from something
    else: one line each, saying to reset it with ``reset`` (the command that does)."""
    store = Store(db_path)
    try:
        seeded = store.get_meta(SEEDED)
        if seeded is None and store.holds_data():
            if seed is not None:
                raise SeedMismatch(
                    f"{db_path} holds data but no record of being seeded (an older okectl sandbox "
                    f"serve or another tool wrote it); okectl will not seed {seed} on top of it: "
                    f"reset it with {reset}"
                )
        elif seeded is None:
            if seed is not None:
                seed_file(store, seed)
            else:
                _record(store, NOTHING)
        elif insist and seed is not None and store.get_meta(SEED_DIGEST) != _digest(seed):
            source = store.get_meta(SEEDED_FROM) or "something else"
            raise SeedMismatch(
                f"{db_path} was seeded from {source} on {seeded[:10]}, not from {seed}; okectl will not "
                f"mix them: reset it with {reset} {seed}"
            )
    except BaseException:
        store.close()
        raise
    return store


def owned_labels(repository_id: str, commit: str) -> dict[str, str]:
    return {MANAGED_BY: MANAGED_BY_VALUE, LABEL_REPOSITORY: repository_id, LABEL_COMMIT: commit}


def in_sync_docs(
    resources: Iterable[Resource], repository_id: str, *, commit: str = "in-sync"
) -> list[tuple[Key, dict[str, Any]]]:
    labels = owned_labels(repository_id, commit)
    stamp = now_iso()
    out: list[tuple[Key, dict[str, Any]]] = []
    for res in resources:
        a = res.address
        key = Key(a.supplier, a.school, a.environment, a.kind, a.name)
        fields = {k: v for k, v in res.spec.items() if k != "secret"}
        out.append((key, build_doc(key, fields, labels, None, timestamp=stamp)))
    return out


def seed_in_sync(
    db_path: Path | str, resources: Iterable[Resource], repository_id: str, *, commit: str = "in-sync"
) -> int:
    """Write a repository's desired resources as already applied and owned by it, so the
    next plan is empty (benchmarks and tests start from there)."""
    store = Store(db_path)
    try:
        docs = in_sync_docs(resources, repository_id, commit=commit)
        # In place of what was there: resources left from before would show up in the plan.
        store.clear()
        bulk_insert(store, docs)
        _record(store, f"the desired state of repository {repository_id}, as applied")
        return len(docs)
    finally:
        store.close()
