"""The sandbox's state: one SQLite file (WAL mode) holding every supplier's tenants.

Each resource row keeps its complete JSON representation next to its key columns, so a
list page is one query whose rows are joined into the response as they are, with no
decoding and re-encoding per row: that keeps a 10,000-resource refresh cheap.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from okectl.errors import OkectlError
from okectl.model.resources import WIRE_FIELDS, Kind, fingerprint

# The credential every supplier accepts unless the seed switches it off: it sees all of
# that supplier's tenants, so embedded mode needs no configuration.
DEV_CLIENT_ID = "okectl-dev"
DEV_CLIENT_SECRET = "okectl-dev"
ALL_TENANTS = "*"

# Environments' base URLs are stored relative to the sandbox's origin, which is only known
# per request (embedded, a test server on a random port, a benchmark): responses rewrite
# this marker with one string replacement per page.
BASE_URL_MARKER = '"base_url":"/ooapi/'

_SCHEMA = """
CREATE TABLE IF NOT EXISTS resources (
    id INTEGER PRIMARY KEY,
    supplier TEXT NOT NULL,
    school TEXT NOT NULL,
    environment TEXT NOT NULL,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    etag TEXT NOT NULL,
    doc TEXT NOT NULL,
    UNIQUE (supplier, school, environment, kind, name)
);
CREATE INDEX IF NOT EXISTS resources_by_tenant ON resources (supplier, school, id);
CREATE INDEX IF NOT EXISTS resources_by_supplier ON resources (supplier, id);
CREATE TABLE IF NOT EXISTS tenants (
    supplier TEXT NOT NULL,
    school TEXT NOT NULL,
    PRIMARY KEY (supplier, school)
);
CREATE TABLE IF NOT EXISTS credentials (
    supplier TEXT NOT NULL,
    client_id TEXT NOT NULL,
    secret_sha256 TEXT NOT NULL,
    tenants TEXT NOT NULL,
    PRIMARY KEY (supplier, client_id)
);
CREATE TABLE IF NOT EXISTS releases (
    supplier TEXT NOT NULL,
    position INTEGER NOT NULL,
    doc TEXT NOT NULL,
    PRIMARY KEY (supplier, position)
);
CREATE TABLE IF NOT EXISTS suppliers (
    supplier TEXT PRIMARY KEY,
    contact_email TEXT
);
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""

# Which fields a client may write, per kind; everything else in a document is the supplier's.
WRITABLE = WIRE_FIELDS


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def dumps(doc: Any) -> str:
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=False)


@dataclass(frozen=True, slots=True)
class Key:
    supplier: str
    school: str
    environment: str
    kind: Kind = "environment"
    name: str = ""


@dataclass(frozen=True, slots=True)
class Credential:
    supplier: str
    client_id: str
    tenants: frozenset[str]  # {"*"} for every tenant of the supplier

    def sees(self, school: str) -> bool:
        return ALL_TENANTS in self.tenants or school in self.tenants


@dataclass(frozen=True, slots=True)
class Stored:
    etag: str
    doc: str  # the JSON representation, base URL still relative


class Store:
    """Thread-safe access to the sandbox database; every method is one short transaction."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        if str(path) != ":memory:":
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise OkectlError(f"{path}: cannot create its directory ({exc.strerror or exc})") from None
        # The server thread and test threads share one connection; the lock serialises them.
        try:
            self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        except sqlite3.Error as exc:
            raise OkectlError(f"{path}: cannot open the sandbox database ({exc})") from None
        self._lock = threading.RLock()
        try:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
            self._db.execute("SELECT key, value FROM meta LIMIT 1").fetchall()
        except sqlite3.OperationalError as exc:
            self._db.close()
            if "locked" in str(exc) or "unable to open" in str(exc) or "readonly" in str(exc):
                raise OkectlError(f"{path}: cannot open the sandbox database ({exc})") from None
            raise OkectlError(f"{path} is not a sandbox database ({exc}); delete it to start over") from None
        except sqlite3.DatabaseError as exc:
            self._db.close()
            raise OkectlError(f"{path} is not a sandbox database ({exc}); delete it to start over") from None

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    # --- meta, suppliers, credentials, releases ------------------------------------------

    def get_meta(self, key: str) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    def holds_data(self) -> bool:
        """Whether anything at all was written into this database."""
        tables = ("resources", "tenants", "credentials", "suppliers", "releases", "meta")
        with self._lock:
            return any(self._db.execute(f"SELECT 1 FROM {t} LIMIT 1").fetchone() for t in tables)

    def clear(self) -> None:
        """Remove everything: suppliers, tenants, credentials, releases, resources, records."""
        with self.transaction() as db:
            for table in ("resources", "tenants", "credentials", "suppliers", "releases", "meta"):
                db.execute(f"DELETE FROM {table}")

    @property
    def dev_credential(self) -> bool:
        return self.get_meta("dev_credential") != "false"

    def set_supplier(self, supplier: str, *, contact_email: str | None) -> None:
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO suppliers (supplier, contact_email) VALUES (?, ?)",
                (supplier, contact_email),
            )

    def contact_email(self, supplier: str) -> str | None:
        with self._lock:
            row = self._db.execute(
                "SELECT contact_email FROM suppliers WHERE supplier = ?", (supplier,)
            ).fetchone()
        return None if row is None or row[0] is None else str(row[0])

    def add_credential(self, supplier: str, client_id: str, secret: str, tenants: Iterable[str]) -> None:
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO credentials (supplier, client_id, secret_sha256, tenants) "
                "VALUES (?, ?, ?, ?)",
                (supplier, client_id, _sha256(secret), dumps(sorted(set(tenants)))),
            )

    def authenticate(self, supplier: str, client_id: str, secret: str) -> Credential | None:
        if client_id == DEV_CLIENT_ID and secret == DEV_CLIENT_SECRET and self.dev_credential:
            return Credential(supplier, client_id, frozenset({ALL_TENANTS}))
        with self._lock:
            row = self._db.execute(
                "SELECT secret_sha256, tenants FROM credentials WHERE supplier = ? AND client_id = ?",
                (supplier, client_id),
            ).fetchone()
        if row is None or row[0] != _sha256(secret):
            return None
        return Credential(supplier, client_id, frozenset(json.loads(row[1])))

    def set_releases(self, supplier: str, releases: list[dict[str, Any]]) -> None:
        with self.transaction() as db:
            db.execute("DELETE FROM releases WHERE supplier = ?", (supplier,))
            db.executemany(
                "INSERT INTO releases (supplier, position, doc) VALUES (?, ?, ?)",
                [(supplier, i, dumps(r)) for i, r in enumerate(releases)],
            )

    def releases(self, supplier: str) -> list[str]:
        with self._lock:
            rows = self._db.execute(
                "SELECT doc FROM releases WHERE supplier = ? ORDER BY position", (supplier,)
            ).fetchall()
        return [str(r[0]) for r in rows]

    # --- tenants -------------------------------------------------------------------------

    def add_tenant(self, supplier: str, school: str) -> None:
        with self._lock:
            self._db.execute(
                "INSERT OR IGNORE INTO tenants (supplier, school) VALUES (?, ?)", (supplier, school)
            )

    def tenants(self, cred: Credential) -> list[tuple[str, int]]:
        """The tenants this credential sees, each with how many resources it holds."""
        with self._lock:
            rows = self._db.execute(
                "SELECT t.school, (SELECT count(*) FROM resources r"
                " WHERE r.supplier = t.supplier AND r.school = t.school)"
                " FROM tenants t WHERE t.supplier = ? ORDER BY t.school",
                (cred.supplier,),
            ).fetchall()
        return [(str(r[0]), int(r[1])) for r in rows if cred.sees(str(r[0]))]

    # --- resources -----------------------------------------------------------------------

    def get(self, key: Key) -> Stored | None:
        with self._lock:
            row = self._db.execute(
                "SELECT etag, doc FROM resources WHERE supplier = ? AND school = ? AND environment = ? "
                "AND kind = ? AND name = ?",
                (key.supplier, key.school, key.environment, key.kind, key.name),
            ).fetchone()
        return None if row is None else Stored(str(row[0]), str(row[1]))

    def page(
        self,
        cred: Credential,
        *,
        school: str | None,
        environment: str | None = None,
        kind: Kind | None = None,
        after: int = 0,
        limit: int,
    ) -> tuple[list[str], int | None]:
        """One page of documents in storage order and the id to continue after, if any."""
        sql = "SELECT id, doc FROM resources WHERE supplier = ?"
        args: list[Any] = [cred.supplier]
        if school is not None:
            sql += " AND school = ?"
            args.append(school)
        elif ALL_TENANTS not in cred.tenants:
            sql += f" AND school IN ({','.join('?' * len(cred.tenants))})"
            args.extend(sorted(cred.tenants))
        if environment is not None:
            sql += " AND environment = ?"
            args.append(environment)
        if kind is not None:
            sql += " AND kind = ?"
            args.append(kind)
        sql += " AND id > ? ORDER BY id LIMIT ?"
        args += [after, limit + 1]
        with self._lock:
            rows = self._db.execute(sql, args).fetchall()
        more = len(rows) > limit
        rows = rows[:limit]
        return [r[1] for r in rows], (rows[-1][0] if more else None)

    def put(
        self,
        key: Key,
        fields: dict[str, Any],
        labels: dict[str, str],
        *,
        if_match: str | None,
        if_none_match: bool,
        secret: str | None = None,
        keep_secret: bool = True,
    ) -> tuple[str, Stored, bool] | tuple[str, None, bool]:
        """Create or replace under a precondition.

        Returns (outcome, stored, created) where outcome is ``ok``, ``exists`` (If-None-Match
        failed), ``mismatch`` (If-Match failed), ``no-parent`` or ``missing`` (nothing to replace).
        """
        with self.transaction() as db:
            row = db.execute(
                "SELECT id, etag, doc FROM resources WHERE supplier = ? AND school = ? AND environment = ? "
                "AND kind = ? AND name = ?",
                (key.supplier, key.school, key.environment, key.kind, key.name),
            ).fetchone()
            if row is None:
                if if_match is not None:
                    return "missing", None, False
            elif if_none_match:
                return "exists", None, False
            elif if_match is not None and if_match not in (row[1], "*"):
                return "mismatch", None, False
            if key.kind != "environment" and row is None:
                parent = db.execute(
                    "SELECT 1 FROM resources WHERE supplier = ? AND school = ? AND environment = ? "
                    "AND kind = 'environment'",
                    (key.supplier, key.school, key.environment),
                ).fetchone()
                if parent is None:
                    return "no-parent", None, False
            previous = json.loads(row[2]) if row is not None else None
            doc = build_doc(key, fields, labels, previous, secret=secret, keep_secret=keep_secret)
            text = dumps(doc)
            etag = '"' + _sha256(text)[:20] + '"'
            doc["etag"] = etag
            text = dumps(doc)
            db.execute(
                "INSERT INTO tenants (supplier, school) VALUES (?, ?) ON CONFLICT DO NOTHING",
                (key.supplier, key.school),
            )
            if row is None:
                db.execute(
                    "INSERT INTO resources (supplier, school, environment, kind, name, etag, doc) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (key.supplier, key.school, key.environment, key.kind, key.name, etag, text),
                )
            else:
                db.execute("UPDATE resources SET etag = ?, doc = ? WHERE id = ?", (etag, text, row[0]))
        return "ok", Stored(etag, text), row is None

    def delete(self, key: Key, *, if_match: str) -> str:
        """``ok``, ``missing``, ``mismatch`` or ``has-children``."""
        with self.transaction() as db:
            row = db.execute(
                "SELECT id, etag FROM resources WHERE supplier = ? AND school = ? AND environment = ? "
                "AND kind = ? AND name = ?",
                (key.supplier, key.school, key.environment, key.kind, key.name),
            ).fetchone()
            if row is None:
                return "missing"
            if if_match not in (row[1], "*"):
                return "mismatch"
            if key.kind == "environment":
                child = db.execute(
                    "SELECT 1 FROM resources WHERE supplier = ? AND school = ? AND environment = ? "
                    "AND kind != 'environment' LIMIT 1",
                    (key.supplier, key.school, key.environment),
                ).fetchone()
                if child is not None:
                    return "has-children"
            db.execute("DELETE FROM resources WHERE id = ?", (row[0],))
        return "ok"

    def counts(self) -> dict[str, int]:
        with self._lock:
            rows = self._db.execute("SELECT kind, count(*) FROM resources GROUP BY kind").fetchall()
        return {str(k): int(n) for k, n in rows}


def build_doc(
    key: Key,
    fields: dict[str, Any],
    labels: dict[str, str],
    previous: dict[str, Any] | None,
    *,
    secret: str | None = None,
    keep_secret: bool = True,
    timestamp: str | None = None,
) -> dict[str, Any]:
    """The stored representation of a resource (its etag is added by the caller)."""
    stamp = timestamp or now_iso()
    doc: dict[str, Any] = {"kind": key.kind, "tenant": key.school}
    if key.kind == "environment":
        sso = fields.get("sso") or {}
        doc.update(
            name=key.environment,
            type=fields["type"],
            status=fields.get("status", "live"),
            function=fields.get("function"),
            oke_version=fields["oke_version"],
            ooapi_version=fields.get("ooapi_version"),
            flows=sorted(set(fields.get("flows") or [])),
            sso={
                "mode": sso.get("mode", "required"),
                "federation": sso.get("federation"),
                "schac_home": sso.get("schac_home"),
            },
            base_url=f"/ooapi/{key.supplier}/{key.school}/{key.environment}",
        )
    elif key.kind == "client":
        if secret is not None:
            secret_fp: str | None = fingerprint(secret)
        elif keep_secret and previous is not None:
            secret_fp = previous.get("secret_fingerprint")
        else:
            secret_fp = None
        doc.update(
            environment=key.environment,
            system=key.name,
            client_id=fields["client_id"],
            scopes=sorted(set(fields.get("scopes") or [])),
            secret_fingerprint=secret_fp,
        )
    else:
        doc.update(
            environment=key.environment,
            role=key.name,
            name=fields["name"],
            groups=sorted(set(fields.get("groups") or [])),
        )
    doc["labels"] = dict(labels)
    doc["created_at"] = previous.get("created_at", stamp) if previous else stamp
    doc["updated_at"] = stamp
    return doc


def bulk_insert(store: Store, docs: list[tuple[Key, dict[str, Any]]]) -> None:
    """Insert complete documents (seeding): replaces what is at those keys."""
    rows = []
    for key, doc in docs:
        doc.pop("etag", None)
        etag = '"' + _sha256(dumps(doc))[:20] + '"'
        doc["etag"] = etag
        rows.append((key.supplier, key.school, key.environment, key.kind, key.name, etag, dumps(doc)))
    with store.transaction() as db:
        db.executemany(
            "INSERT OR REPLACE INTO resources (supplier, school, environment, kind, name, etag, doc) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
        db.executemany(
            "INSERT OR IGNORE INTO tenants (supplier, school) VALUES (?, ?)",
            sorted({(k.supplier, k.school) for k, _ in docs}),
        )
