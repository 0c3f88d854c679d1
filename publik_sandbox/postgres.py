"""A private PostgreSQL cluster for the sandbox (never the system one).

initdb under `$STATE/pg` as the postgres user, the postmaster in the foreground on the sandbox's
address and a unix socket directory under `$STATE`. pg_hba: trust for postgres on the socket
(like `sudo -u postgres psql` on a real database server), passwords (scram) everywhere else.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from publik_sandbox import procs
from publik_sandbox.config import Network

PG_BIN = Path("/usr/lib/postgresql/15/bin")
PG_HBA = """\
# publik-sandbox: generated
local   all   postgres                 trust
local   all   all                      scram-sha-256
host    all   all      127.0.0.0/8     scram-sha-256
"""


def _chown_postgres(path: Path) -> None:
    import shutil

    shutil.chown(path, "postgres", "postgres")


def init_cluster(pg_dir: Path, data: Path, socket_dir: Path) -> None:
    pg_dir.mkdir(parents=True, exist_ok=True)
    socket_dir.mkdir(parents=True, exist_ok=True)
    _chown_postgres(pg_dir)
    _chown_postgres(socket_dir)
    pg_dir.chmod(0o755)
    socket_dir.chmod(0o755)
    subprocess.run(
        [str(PG_BIN / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust", "-E", "UTF8",
         "--locale=C.UTF-8", "-N"],
        user="postgres", group="postgres", extra_groups=[], check=True, timeout=60,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=pg_dir,
    )
    (data / "pg_hba.conf").write_text(PG_HBA)


def start(data: Path, socket_dir: Path, network: Network, run_dir: Path, log_dir: Path) -> subprocess.Popen:
    argv = [
        str(PG_BIN / "postgres"), "-D", str(data),
        "-p", str(network.postgres_port),
        "-k", str(socket_dir),
        "-c", f"listen_addresses={network.postgres}",
        "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
        "-c", "shared_buffers=16MB", "-c", "max_connections=40",
        "-c", "password_encryption=scram-sha-256",
        # CREATE ROLE … PASSWORD must never reach the log, even in a failed statement's echo.
        "-c", "log_min_error_statement=panic",
    ]
    proc = procs.start("postgres", argv, run_dir, log_dir, user="postgres", cwd=data.parent)
    wait_ready(socket_dir, network.postgres_port, proc)
    return proc


def connect(socket_dir: Path, port: int, dbname: str = "postgres"):  # -> psycopg.Connection
    import psycopg

    return psycopg.connect(host=str(socket_dir), port=port, user="postgres", dbname=dbname,
                           autocommit=True, connect_timeout=3)


def wait_ready(socket_dir: Path, port: int, proc: subprocess.Popen, timeout: float = 15) -> None:
    import psycopg

    deadline = time.monotonic() + timeout
    while True:
        if (socket_dir / f".s.PGSQL.{port}").exists():
            try:
                connect(socket_dir, port).close()
                return
            except psycopg.OperationalError:
                pass
        if proc.poll() is not None:
            raise procs.StartError(f"postgres exited with status {proc.returncode} (see log/postgres.log)")
        if time.monotonic() > deadline:
            raise procs.StartError(f"postgres not ready after {timeout:.0f} s (see log/postgres.log)")
        time.sleep(0.02)


def provision(socket_dir: Path, port: int, databases: list[str], wcs_password: str, createdb: bool) -> None:
    """The Django service databases and the w.c.s. role of the skeleton's createdb-connection-params."""
    from psycopg import sql

    with connect(socket_dir, port) as conn:
        for name in databases:
            conn.execute(sql.SQL("CREATE DATABASE {} STRATEGY FILE_COPY").format(sql.Identifier(name)))
        conn.execute(
            sql.SQL("CREATE ROLE wcs LOGIN {} PASSWORD {}").format(
                sql.SQL("CREATEDB" if createdb else "NOCREATEDB"), sql.Literal(wcs_password)
            )
        )
