"""Database servers for the DB test suite: throwaway PostgreSQL and MariaDB/MySQL servers.

Fixtures (registered in conftest.py, so test modules just name them):

* ``db_url`` (function, parametrised ``sqlite`` / ``postgres`` / ``mysql``): a URL to an empty
  database of each backend. SQLite is a file in ``tmp_path``.
* ``server_url`` (function, parametrised ``postgres`` / ``mysql``): the same, servers only.
* ``postgres_server_url`` / ``mysql_server_url`` (session): the URL of the test database.

Where the servers come from
---------------------------
1. ``TLSMGM_TEST_PG_URL`` / ``TLSMGM_TEST_MYSQL_URL``, when set: a server you run yourself. Its user
   must be able to create and drop tables in that database. The URL must work: an unreachable one
   is an error, not a skip. With ``pytest -n`` all workers share its database, so each test
   holds a lock file (in the run's shared temporary directory) while it uses it.
2. Otherwise a throwaway server is started from the installed binaries, the way the ecosystem does
   it: pytest-postgresql's ``PostgreSQLExecutor`` (pg_ctl initdb/start/stop) and pytest-mysql's
   ``MySQLExecutor`` (mariadb-install-db + mysqld_safe), on a free port of 127.0.0.1, with data in
   a fresh temporary directory (under /dev/shm when there is one: on disk, fsync makes
   mariadb-install-db take 4 s instead of 0.4 s); it is stopped and removed at the end of the
   session. One server per pytest process (so one per xdist worker that runs a server test: each
   has its own database, no locking needed), started only when a test needs it (about 0.5 s).
   The suite never installs packages, never starts or stops system services.
3. Binaries absent: the server tests are skipped with the true reason (``no pg_ctl on PATH ...``,
   ``no mysqld/mariadbd on PATH ...``). ``TLSMGM_REQUIRE_DB=1`` (set by ``.ci/run``) turns that skip
   into a failure, so CI cannot pass with the DB tests skipped. A server that is found but does not
   start is always a failure, with the end of its log.

Binaries are looked up on ``PATH``, then in Debian's places that are not on a user's PATH
(``/usr/lib/postgresql/<newest>/bin``, ``/usr/sbin``). ``TLSMGM_TEST_DB_PATH`` (a PATH-style
list) replaces that whole search; the suite's own tests use it to check the skip reasons.

Running as root
---------------
PostgreSQL refuses to run as root (initdb, pg_ctl and postgres all check), and pytest's temporary
directories are mode 0700, so the PostgreSQL server runs as the ``postgres`` user (``nobody`` where
there is none): its directory comes from ``tempfile.mkdtemp`` and is given to that user, and the
executor is handed a two-line ``pg_ctl`` wrapper that drops privileges with util-linux's ``setpriv``
before running the real pg_ctl. Its password file would be unreadable to that user, so the cluster is
created with ``trust``, and our own ``hba_file`` then trusts only the unix socket (in that private
directory: its owner and root only; the fixture creates the test user through it) and asks every
TCP client for a scram password: a wrong password is refused as on a real server. MariaDB accepts root when told so explicitly: ``mysqld_safe --user=root``, which is
what ``MySQLExecutor`` passes when the OS user is root; mariadb-install-db gives that OS user a
``unix_socket`` account, through which the fixture creates the password-protected test user.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import NoReturn, TypeVar

import pytest

from tlsmgm_cli.core.db.backend import DbError, connect

ENV = {"postgres": "TLSMGM_TEST_PG_URL", "mysql": "TLSMGM_TEST_MYSQL_URL"}
REQUIRE_ENV = "TLSMGM_REQUIRE_DB"
SEARCH_ENV = "TLSMGM_TEST_DB_PATH"
DB_USER = "tlsmgm"
DB_PASSWORD = "tlsmgm-test-pw"
DB_NAME = "tlsmgm_test"
TEST_TABLES = ("tls_mgm", "tls_custom", "version")
START_TIMEOUT = 60  # seconds for a server to start or stop
T = TypeVar("T")


class Unavailable(Exception):
    """The binaries for a server are not installed (a truthful skip reason)."""


def _search_dirs() -> tuple[list[str], str]:
    """(directories to search, how to describe them in a skip reason)."""
    override = os.environ.get(SEARCH_ENV)
    if override is not None:
        return [d for d in override.split(os.pathsep) if d], f"in {SEARCH_ENV}"
    path = [d for d in os.environ.get("PATH", os.defpath).split(os.pathsep) if d]
    newest_first = sorted(glob.glob("/usr/lib/postgresql/*/bin"),
                          key=lambda d: [int(p) if p.isdigit() else 0 for p in Path(d).parent.name.split(".")],
                          reverse=True)
    return path + newest_first + ["/usr/sbin", "/usr/local/sbin"], ""


def find_program(*names: str, dirs: list[str]) -> str | None:
    """The first of ``names`` found as an executable file in ``dirs``."""
    for name in names:
        found = shutil.which(name, path=os.pathsep.join(dirs))
        if found:
            return found
    return None


def postgres_binaries() -> str:
    """pg_ctl's path, or Unavailable with the true reason."""
    dirs, where = _search_dirs()
    pg_ctl = find_program("pg_ctl", dirs=dirs)
    if pg_ctl is None:
        raise Unavailable(f"no pg_ctl {where or 'on PATH or in /usr/lib/postgresql/*/bin'}")
    return pg_ctl


def mysql_binaries() -> dict[str, str | None]:
    """Paths of mysqld, mysqld_safe, install_db (None: MySQL's mysqld --initialize), admin."""
    dirs, where = _search_dirs()
    where = where or "on PATH or in /usr/sbin"
    found = {
        "mysqld": find_program("mariadbd", "mysqld", dirs=dirs),
        "mysqld_safe": find_program("mariadbd-safe", "mysqld_safe", dirs=dirs),
        "install_db": find_program("mariadb-install-db", "mysql_install_db", dirs=dirs),
        "admin": find_program("mariadb-admin", "mysqladmin", dirs=dirs),
    }
    if found["mysqld"] is None:
        raise Unavailable(f"no mysqld/mariadbd {where}")
    missing = [name for name in ("mysqld_safe", "admin") if found[name] is None]
    if missing:
        raise Unavailable(f"{found['mysqld']} is installed but no {'/'.join(missing)} {where}")
    return found


def _unavailable(reason: str) -> NoReturn:
    """Skip, or fail when CI requires the database tests to run."""
    if os.environ.get(REQUIRE_ENV, "") not in ("", "0"):
        pytest.fail(f"{reason} ({REQUIRE_ENV}={os.environ[REQUIRE_ENV]}: the DB tests must run here)",
                    pytrace=False)
    pytest.skip(reason)


def _external(backend: str) -> str | None:
    """The URL from the environment (checked to work), or None when unset."""
    url = os.environ.get(ENV[backend])
    if not url:
        return None
    try:
        connect(url).close()
    except DbError as err:  # the message is masked: no password
        pytest.fail(f"{ENV[backend]} is set but does not work: {err}", pytrace=False)
    return url


def _scratch_dir(prefix: str) -> Path:
    """A new private directory for a server's files: in /dev/shm where there is one (a tmpfs; on
    disk, mariadb-install-db and initdb spend seconds in fsync), else in the temporary directory."""
    shm = Path("/dev/shm")
    where = str(shm) if shm.is_dir() and os.access(shm, os.W_OK | os.X_OK) else None
    return Path(tempfile.mkdtemp(prefix=prefix, dir=where))


def _free_port() -> int:
    """A TCP port of 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _connect_when_ready(connect_once: Callable[[], T]) -> T:
    """``connect_once()``, retried until it works or START_TIMEOUT passes: a server whose port is
    open may still refuse clients for a moment ("the database system is starting up")."""
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        try:
            return connect_once()
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def _log_tail(path: Path, limit: int = 2000) -> str:
    try:
        return path.read_text(errors="replace")[-limit:]
    except OSError as err:
        return f"(no log: {err})"


# ---- PostgreSQL -------------------------------------------------------------------------------

def _server_account() -> pwd.struct_passwd:
    """The unprivileged account a root-run PostgreSQL uses."""
    for name in ("postgres", "nobody"):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    raise Unavailable("running as root and there is no 'postgres' or 'nobody' user to run PostgreSQL as")


def _pg_ctl_for(pg_ctl: str, base: Path) -> str:
    """pg_ctl itself, or (as root) a wrapper that runs it as an unprivileged user."""
    if os.geteuid() != 0:
        return pg_ctl
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        raise Unavailable("running as root and no setpriv (util-linux) to run PostgreSQL unprivileged")
    account = _server_account()
    os.chown(base, account.pw_uid, account.pw_gid)
    wrapper = base / "pg_ctl"
    wrapper.write_text("#!/bin/sh\n"
                       f"cd / && exec {setpriv} --reuid={account.pw_uid} --regid={account.pw_gid} "
                       f'--clear-groups -- {pg_ctl} "$@"\n')
    wrapper.chmod(0o755)
    return str(wrapper)


@pytest.fixture(scope="session")
def postgres_server_url() -> Iterator[str]:
    """URL of an empty-ish test database on a PostgreSQL server (see the module docstring)."""
    external = _external("postgres")
    if external:
        yield external
        return
    try:
        pg_ctl = postgres_binaries()
    except Unavailable as why:
        _unavailable(str(why))
    import psycopg
    from pytest_postgresql.executors import PostgreSQLExecutor

    base = _scratch_dir("tlsmgm-pg-")
    executor = None
    try:
        try:
            executable = _pg_ctl_for(pg_ctl, base)
        except Unavailable as why:
            _unavailable(str(why))
        hba = base / "pg_hba.conf"
        hba.write_text("local all all trust\n"  # the socket is in `base`: its owner (and root) only
                       "host all all 127.0.0.1/32 scram-sha-256\n")
        hba.chmod(0o644)
        port = _free_port()
        executor = PostgreSQLExecutor(
            executable=executable, host="127.0.0.1", port=port, datadir=str(base / "data"),
            unixsocketdir=str(base), logfile=str(base / "postgresql.log"), startparams="-w",
            dbname=DB_NAME, user="postgres", timeout=START_TIMEOUT,
            postgres_options=f"-c hba_file={hba} -c listen_addresses=127.0.0.1 -c fsync=off",
        )
        try:
            executor.start()
            with _connect_when_ready(lambda: psycopg.connect(
                    host=str(base), port=port, user="postgres", dbname="postgres", autocommit=True,
                    connect_timeout=10)) as admin:
                admin.execute(f"CREATE ROLE {DB_USER} LOGIN PASSWORD '{DB_PASSWORD}'")
                admin.execute(f"GRANT pg_read_all_settings TO {DB_USER}")  # test_suite_setup reads it
                admin.execute(f"CREATE DATABASE {DB_NAME} OWNER {DB_USER}")
        except Exception as err:  # noqa: BLE001 - any failure to start is reported with the log
            pytest.fail(f"PostgreSQL ({pg_ctl}) did not start: {err}\n"
                        f"{_log_tail(base / 'postgresql.log')}", pytrace=False)
        yield f"postgres://{DB_USER}:{DB_PASSWORD}@127.0.0.1:{port}/{DB_NAME}"
    finally:
        if executor is not None:
            try:
                executor.stop()
            except Exception:  # noqa: BLE001 - already stopped or never started
                pass
        shutil.rmtree(base, ignore_errors=True)


# ---- MariaDB / MySQL --------------------------------------------------------------------------

@pytest.fixture(scope="session")
def mysql_server_url() -> Iterator[str]:
    """URL of an empty-ish test database on a MariaDB/MySQL server (see the module docstring)."""
    external = _external("mysql")
    if external:
        yield external
        return
    try:
        binaries = mysql_binaries()
    except Unavailable as why:
        _unavailable(str(why))
    import pymysql
    from pytest_mysql.executor import MySQLExecutor

    base = _scratch_dir("tlsmgm-my-")
    os_user = pwd.getpwuid(os.geteuid()).pw_name
    executor = None
    try:
        port = _free_port()
        assert binaries["mysqld"] and binaries["mysqld_safe"] and binaries["admin"]
        executor = MySQLExecutor(
            mysqld_safe=Path(binaries["mysqld_safe"]), mysqld=Path(binaries["mysqld"]),
            admin_exec=binaries["admin"], logfile_path=str(base / "mysqld.log"),
            params=("--bind-address=127.0.0.1 --skip-name-resolve --innodb-flush-log-at-trx-commit=0"
                    " --innodb-fast-shutdown=2 --innodb-buffer-pool-dump-at-shutdown=0"
                    " --innodb-buffer-pool-load-at-startup=0"),
            base_directory=base, user=os_user, host="127.0.0.1", port=port, timeout=START_TIMEOUT,
            install_db=binaries["install_db"],
        )
        try:
            executor.start()
            admin = _connect_when_ready(lambda: pymysql.connect(
                unix_socket=executor.unixsocket, user=os_user, connect_timeout=10, autocommit=True))
            with admin.cursor() as cur:
                cur.execute(f"CREATE DATABASE `{DB_NAME}`")
                for host in ("127.0.0.1", "localhost"):
                    cur.execute(f"CREATE USER '{DB_USER}'@'{host}' IDENTIFIED BY '{DB_PASSWORD}'")
                    cur.execute(f"GRANT ALL PRIVILEGES ON `{DB_NAME}`.* TO '{DB_USER}'@'{host}'")
            admin.close()
        except Exception as err:  # noqa: BLE001 - any failure to start is reported with the log
            pytest.fail(f"MariaDB/MySQL ({binaries['mysqld']}) did not start: {err}\n"
                        f"{_log_tail(base / 'mysqld.log')}", pytrace=False)
        yield f"mysql://{DB_USER}:{DB_PASSWORD}@127.0.0.1:{port}/{DB_NAME}"
    finally:
        if executor is not None:
            try:
                executor.stop()
            except Exception:  # noqa: BLE001 - already stopped or never started
                pass
        shutil.rmtree(base, ignore_errors=True)


# ---- the fixtures tests use -------------------------------------------------------------------

def reset_database(url: str) -> None:
    """Drop the tables tests create."""
    with connect(url) as db:
        for table in TEST_TABLES:
            db.execute(f"DROP TABLE IF EXISTS {table}")


SERVER_BACKENDS = [pytest.param(backend, id=backend, marks=getattr(pytest.mark, backend))
                   for backend in ("postgres", "mysql")]
BACKENDS = [pytest.param("sqlite", id="sqlite"), *SERVER_BACKENDS]


@contextlib.contextmanager
def _exclusive(request: pytest.FixtureRequest, backend: str) -> Iterator[None]:
    """Hold the lock of an external server's database (its tests then run one at a time across
    xdist workers: they share one database). A throwaway server is this process's own: no lock."""
    if not os.environ.get(ENV[backend]):
        yield
        return
    import fcntl

    factory = request.getfixturevalue("tmp_path_factory")
    shared = factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        shared = shared.parent  # the directory all workers of this run share
    with open(shared / f"tlsmgm-{backend}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _server_database(request: pytest.FixtureRequest, backend: str) -> Iterator[str]:
    url: str = request.getfixturevalue(f"{backend}_server_url")
    with _exclusive(request, backend):
        reset_database(url)
        yield url


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A URL to an empty database of each backend."""
    if request.param == "sqlite":
        yield f"sqlite://{tmp_path / 'opensips.db'}"
    else:
        yield from _server_database(request, request.param)


@pytest.fixture(params=SERVER_BACKENDS)
def server_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """A URL to an empty database on each server backend (PostgreSQL, MariaDB/MySQL)."""
    yield from _server_database(request, request.param)
