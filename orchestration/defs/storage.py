"""Dagster's PostgreSQL storages, on pooled connections that are checked before use.

dagster-postgres opens a new connection for every call outside the webserver. A tier run records
some hundreds of events (one per planned check, step and log line), each a new connection with
its SCRAM handshake: on a tier run whose marts are all skipped, that was a quarter of the run. These
subclasses keep one pooled connection per storage in every process instead (more while several
threads write at once, closed again on return), release them when the instance is disposed, and
turn on SQLAlchemy's pre-ping: when the database restarts, a dead connection is replaced before
it is used, so ops who open the UI after a restart, and runs that outlive one, see no
"server closed the connection unexpectedly". The webserver keeps its own pooled engine
(``optimize_for_webserver``), pre-pinged the same way.
"""

from __future__ import annotations

from typing import Any

from dagster_postgres import PostgresEventLogStorage, PostgresRunStorage, PostgresScheduleStorage
from dagster_postgres.utils import (
    create_pg_engine,
    get_token_provider_from_config,
    pg_url_from_config,
)

MODULE = __name__


POOL_SIZE = 1
POOL_MAX_OVERFLOW = 8
POOL_RECYCLE_SECONDS = 3600


class _PingBeforeUse:
    """A small pre-pinged pool in place of dagster-postgres's NullPool, and pre-ping for the
    pooled engine that ``optimize_for_webserver`` builds."""

    _engine: Any
    postgres_url: str
    _token_provider: Any

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        unpooled = self._engine
        self._engine = create_pg_engine(
            self.postgres_url,
            self._token_provider,
            isolation_level="AUTOCOMMIT",
            pool_size=POOL_SIZE,
            max_overflow=POOL_MAX_OVERFLOW,
            pool_recycle=POOL_RECYCLE_SECONDS,
            pool_pre_ping=True,
        )
        unpooled.dispose()

    def dispose(self) -> None:
        super().dispose()  # type: ignore[misc]
        self._engine.dispose()

    def optimize_for_webserver(
        self, statement_timeout: int, pool_recycle: int, max_overflow: int
    ) -> None:
        pooled = self._engine
        super().optimize_for_webserver(  # type: ignore[misc]
            statement_timeout, pool_recycle, max_overflow
        )
        pooled.dispose()
        # The engine is built inside dagster-postgres; this is create_engine(pool_pre_ping=True).
        self._engine.pool._pre_ping = True

    @classmethod
    def from_config_value(cls, inst_data: Any, config_value: Any) -> Any:
        return cls(  # type: ignore[call-arg]
            inst_data=inst_data,
            postgres_url=pg_url_from_config(config_value),
            should_autocreate_tables=config_value.get("should_autocreate_tables", True),
            token_provider=get_token_provider_from_config(config_value),
        )


class RunStorage(_PingBeforeUse, PostgresRunStorage):
    """PostgresRunStorage, pinging its webserver connection before use."""


class EventLogStorage(_PingBeforeUse, PostgresEventLogStorage):
    """PostgresEventLogStorage, pinging its webserver connection before use."""


class ScheduleStorage(_PingBeforeUse, PostgresScheduleStorage):
    """PostgresScheduleStorage, pinging its webserver connection before use."""


STORAGE_CLASSES = {
    "run_storage": RunStorage,
    "event_log_storage": EventLogStorage,
    "schedule_storage": ScheduleStorage,
}
