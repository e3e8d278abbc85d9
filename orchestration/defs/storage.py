"""Dagster's PostgreSQL storages, with the webserver's pooled connections checked before use.

For the UI, dagster-postgres holds one pooled connection per storage (run, event log, schedule).
When the database restarts those connections are dead, and without a check the next request on
each storage fails with "server closed the connection unexpectedly": ops who open the UI after a
restart see an error on the first page they load, or on the first re-execution they launch.
These subclasses turn on SQLAlchemy's pre-ping for the webserver's engines, so a dead connection
is replaced before it is used. Other processes (daemon, runs) open a new connection per call and
are unchanged.
"""

from __future__ import annotations

from typing import Any

from dagster_postgres import PostgresEventLogStorage, PostgresRunStorage, PostgresScheduleStorage
from dagster_postgres.utils import get_token_provider_from_config, pg_url_from_config

MODULE = __name__


class _PingBeforeUse:
    """Pre-ping for the pooled engine that ``optimize_for_webserver`` builds."""

    _engine: Any

    def optimize_for_webserver(
        self, statement_timeout: int, pool_recycle: int, max_overflow: int
    ) -> None:
        super().optimize_for_webserver(  # type: ignore[misc]
            statement_timeout, pool_recycle, max_overflow
        )
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
