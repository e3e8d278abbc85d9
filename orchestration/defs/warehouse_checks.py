"""The warehouse database as an asset Dagster observes but does not build, and its checks:
buffer-cache hit ratio, index health, and how far the read replica BI tools use is behind.
What they measure is computed in the library (``lib.health``)."""

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import psycopg
from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetChecksDefinition,
    AssetCheckSeverity,
    AssetKey,
    AssetSpec,
    MetadataValue,
    TableColumn,
    TableRecord,
    TableSchema,
    asset_check,
)

from orchestration.defs.resources import WarehouseResource
from orchestration.lib import health
from orchestration.lib import manifest as manifests
from orchestration.lib import settings as project_settings
from orchestration.lib.health import (
    INEFFICIENT_RATIO,
    MIN_CACHE_HIT_RATIO,
    MIN_SCANS_FOR_UNUSED,
    IndexStats,
)

WAREHOUSE_KEY = AssetKey(["value_view", "warehouse"])
WAREHOUSE_GROUP = "warehouse"
CACHE_HIT_CHECK = "buffer_cache_hit_ratio"
INDEX_HEALTH_CHECK = "index_health"
REPLICA_LAG_CHECK = "replica_lag"

# --------------------------------------------------------------------------------------
# The warehouse database: buffer-cache hit ratio and index health
# --------------------------------------------------------------------------------------


def warehouse_spec(mart_keys: Iterable[AssetKey]) -> AssetSpec:
    """The warehouse database as an asset Dagster observes but does not build."""
    return AssetSpec(
        key=WAREHOUSE_KEY,
        group_name=WAREHOUSE_GROUP,
        description=(
            "The warehouse database (marts schema `value_view`). Not built by Dagster: it carries"
            " instance-wide checks (buffer-cache hit ratio, index health) evaluated after the"
            " marts refresh."
        ),
        kinds={"postgres"},
        deps=sorted(mart_keys, key=lambda key: key.to_user_string()),
    )


def metadata_table(records: Sequence[Mapping[str, Any]], types: Mapping[str, str]) -> MetadataValue:
    """A table for the UI: one record per row, ``types`` giving each column's name and type."""
    return MetadataValue.table(
        records=[TableRecord(dict(record)) for record in records],
        schema=TableSchema(columns=[TableColumn(name, kind) for name, kind in types.items()]),
    )


INDEX_REPORT_COLUMNS = {
    "relation": "string",
    "index": "string",
    "size_kb": "int",
    "scans": "int",
    "tuples_read": "int",
    "tuples_fetched": "int",
    "efficiency_pct": "float",
    "status": "string",
}
CACHE_REPORT_COLUMNS = {
    "relation": "string",
    "hits": "int",
    "reads": "int",
    "hit_ratio_pct": "float",
}


def index_table(stats: Sequence[IndexStats]) -> MetadataValue:
    return metadata_table(
        [
            {
                "relation": item.table,
                "index": item.index,
                "size_kb": item.size_bytes // 1024,
                "scans": item.scans,
                "tuples_read": item.tuples_read,
                "tuples_fetched": item.tuples_fetched,
                "efficiency_pct": round(item.efficiency * 100, 2)
                if item.efficiency is not None
                else 0.0,
                "status": item.status,
            }
            for item in stats
        ],
        INDEX_REPORT_COLUMNS,
    )


def build_warehouse_checks(mart_keys: Sequence[AssetKey]) -> list[AssetChecksDefinition]:
    """Buffer-cache hit ratio of the warehouse database and index health of the marts schema."""
    deps = list(mart_keys)

    @asset_check(
        asset=WAREHOUSE_KEY,
        name=CACHE_HIT_CHECK,
        additional_deps=deps,
        description=(
            f"Share of block requests served from shared buffers in the warehouse database"
            f" (pg_stat_database) is at least {MIN_CACHE_HIT_RATIO:.0%}."
        ),
    )
    def buffer_cache_hit_ratio(
        context: AssetCheckExecutionContext, warehouse: WarehouseResource
    ) -> AssetCheckResult:
        hits, reads, per_relation = health.cache_hits(warehouse.settings(), warehouse.marts_schema)
        passed, ratio, verdict = health.cache_hit_verdict(
            int(hits), int(reads), MIN_CACHE_HIT_RATIO
        )
        relations = [
            {
                "relation": name,
                "hits": hit,
                "reads": read,
                "hit_ratio_pct": round(100.0 * hit / (hit + read), 2) if hit + read else 0.0,
            }
            for name, hit, read in per_relation
        ]
        metadata: dict[str, Any] = {
            "blocks_hit": MetadataValue.int(hits),
            "blocks_read": MetadataValue.int(reads),
            "minimum_ratio": MetadataValue.float(MIN_CACHE_HIT_RATIO),
            "marts_relations": metadata_table(relations, CACHE_REPORT_COLUMNS),
        }
        if ratio is not None:
            metadata["hit_ratio"] = MetadataValue.float(round(ratio, 5))
        return AssetCheckResult(
            passed=passed,
            severity=AssetCheckSeverity.ERROR,
            description=verdict,
            metadata=metadata,
        )

    @asset_check(
        asset=WAREHOUSE_KEY,
        name=INDEX_HEALTH_CHECK,
        additional_deps=deps,
        description=(
            "Indexes of the marts schema never used although their table is read through its"
            f" other indexes ({MIN_SCANS_FOR_UNUSED:,}+ index scans), or that fetch under"
            f" {INEFFICIENT_RATIO:.0%} of the tuples they read (report in the metadata)."
        ),
    )
    def index_health(
        context: AssetCheckExecutionContext, warehouse: WarehouseResource
    ) -> AssetCheckResult:
        stats = health.index_stats(warehouse.settings(), warehouse.marts_schema)
        flagged = [item for item in stats if item.status != "ok"]
        description = (
            f"{len(stats)} indexes, none unused or inefficient"
            if not flagged
            else ", ".join(f"{item.index} ({item.status})" for item in flagged)
        )
        return AssetCheckResult(
            passed=not flagged,
            severity=AssetCheckSeverity.WARN,
            description=description,
            metadata={
                "indexes": MetadataValue.int(len(stats)),
                "unused": MetadataValue.int(sum(item.status == "unused" for item in stats)),
                "inefficient": MetadataValue.int(
                    sum(item.status == "inefficient" for item in stats)
                ),
                "report": index_table(stats),
            },
        )

    return [buffer_cache_hit_ratio, index_health]


# --------------------------------------------------------------------------------------
# The read replica BI tools read from
# --------------------------------------------------------------------------------------


def shortest_freshness_sla(manifest: Mapping[str, Any]) -> dt.timedelta:
    """The tightest freshness SLA of any mart: a replica further behind breaks it for BI readers."""
    ages = [
        health.max_age_for_cron(cron)
        for cron in (
            manifests.refresh_cron(node) for node in manifests.mart_nodes(manifest).values()
        )
        if cron
    ]
    return min(ages, default=dt.timedelta(hours=2))


def build_replica_lag_check(
    manifest: Mapping[str, Any],
    mart_keys: Sequence[AssetKey],
    warn_after_s: float = health.REPLICA_LAG_WARN_S,
    error_after_s: float | None = None,
) -> AssetChecksDefinition:
    """How far the read replica (``settings.replica_settings``) is behind the warehouse: a warning
    over ``warn_after_s``, an error past the shortest freshness SLA; passes when BI reads go to
    the primary because there is no replica."""
    error_after = (
        error_after_s
        if error_after_s is not None
        else shortest_freshness_sla(manifest).total_seconds()
    )

    @asset_check(
        asset=WAREHOUSE_KEY,
        name=REPLICA_LAG_CHECK,
        additional_deps=list(mart_keys),
        description=(
            f"The read replica BI tools use is at most {warn_after_s:,.0f} s behind the primary"
            f" (warning), and never past the shortest freshness SLA, {error_after:,.0f} s (error)."
            " Passes when there is no replica."
        ),
        metadata={"warn_after_s": warn_after_s, "error_after_s": error_after},
    )
    def replica_lag(
        context: AssetCheckExecutionContext, warehouse: WarehouseResource
    ) -> AssetCheckResult:
        replica = project_settings.replica_settings()
        if replica is None:
            return AssetCheckResult(
                passed=True, description="no replica: BI reads go to the primary"
            )
        try:
            lag = health.replica_lag(replica, warehouse.settings())
        except psycopg.Error as error:
            return AssetCheckResult(
                passed=False,
                severity=AssetCheckSeverity.ERROR,
                description=f"cannot read the replica at {replica.host}:{replica.port}:"
                f" {str(error).splitlines()[0]}",
            )
        status, verdict = health.replica_lag_verdict(lag, warn_after_s, error_after)
        metadata: dict[str, Any] = {
            "replica": MetadataValue.text(f"{replica.host}:{replica.port}"),
            "bytes_behind": MetadataValue.int(lag.bytes_behind),
            "receiver": MetadataValue.text(lag.receiver),
            "warn_after_s": MetadataValue.float(warn_after_s),
            "error_after_s": MetadataValue.float(error_after),
        }
        if lag.seconds is not None:
            metadata["lag_s"] = MetadataValue.float(lag.seconds)
        return AssetCheckResult(
            passed=status == "ok",
            severity=AssetCheckSeverity.ERROR if status == "error" else AssetCheckSeverity.WARN,
            description=verdict,
            metadata=metadata,
        )

    return replica_lag
