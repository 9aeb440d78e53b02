"""Flag store locations on each backend, for tests parametrised over SQLite and PostgreSQL.

``ASTROM3_TEST_POSTGRES=postgresql://user:password@host/database`` names a running server and a role
allowed to create databases (``.ci/run`` starts one); every test gets fresh databases of its own,
dropped afterwards. Without it (or when the server does not answer) the PostgreSQL variants skip,
unless ``ASTROM3_REQUIRE_POSTGRES=1``, where they fail.
"""
from __future__ import annotations

import os
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import pytest

BACKENDS = ["sqlite", "postgresql"]


def postgres_admin_url() -> str:
    """The server tests may create databases on; skips (or fails when required) if there is none."""
    url = os.environ.get("ASTROM3_TEST_POSTGRES", "")
    required = os.environ.get("ASTROM3_REQUIRE_POSTGRES") == "1"
    why = None
    if not url:
        why = "ASTROM3_TEST_POSTGRES is not set (no PostgreSQL server for the tests)"
    else:
        try:
            import psycopg
            psycopg.connect(url, connect_timeout=5).close()
        except Exception as exc:  # noqa: BLE001 - any failure means no server to test on
            why = f"PostgreSQL at ASTROM3_TEST_POSTGRES does not answer ({type(exc).__name__}: {exc})"
    if why and required:
        pytest.fail(why + "; ASTROM3_REQUIRE_POSTGRES=1 requires it")
    if why:
        pytest.skip(why)
    return url


class Locations:
    """Fresh store locations of one backend: SQLite files in ``tmp_path`` or new PostgreSQL databases."""

    def __init__(self, backend: str, tmp_path: Path):
        self.backend = backend
        self.tmp_path = tmp_path
        self.admin = postgres_admin_url() if backend == "postgresql" else None
        self._databases: list[str] = []

    def new(self, name: str = "flags"):
        """A location no store uses yet (a ``Path`` for SQLite, a URL for PostgreSQL)."""
        if self.backend == "sqlite":
            return self.tmp_path / f"{name}.sqlite"
        import psycopg
        from psycopg import sql

        db = f"astrom3_test_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.admin, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(db)))
        self._databases.append(db)
        return urlsplit(self.admin)._replace(path="/" + db).geturl()

    def cleanup(self) -> None:
        if not self._databases:
            return
        import psycopg

        with psycopg.connect(self.admin, autocommit=True) as conn:
            for db in self._databases:
                _drop_database(conn, db)


def _drop_database(conn, db: str, tries: int = 20) -> None:
    """Drop a test database; an autovacuum worker briefly on it (a superuser process that a test role may
    not terminate, so ``WITH (FORCE)`` fails) is waited out. A database still busy after that is left
    behind with a warning rather than failing the test it served."""
    import time
    import warnings

    import psycopg
    from psycopg import sql

    for _ in range(tries):
        try:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(db)))
            return
        except (psycopg.errors.InsufficientPrivilege, psycopg.errors.ObjectInUse):
            time.sleep(0.25)
    warnings.warn(f"test database {db} still in use after {tries} tries; left behind", stacklevel=2)


@pytest.fixture(params=BACKENDS)
def locations(request, tmp_path):
    """:class:`Locations` of each backend in turn."""
    loc = Locations(request.param, tmp_path)
    yield loc
    loc.cleanup()


@pytest.fixture
def flag_location(locations):
    """One fresh store location of each backend in turn."""
    return locations.new("flags")


@pytest.fixture
def postgres(tmp_path):
    """:class:`Locations` on PostgreSQL only."""
    loc = Locations("postgresql", tmp_path)
    yield loc
    loc.cleanup()
