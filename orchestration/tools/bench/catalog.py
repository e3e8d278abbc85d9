"""What the bench measures in a built warehouse, read from the dbt manifest: the benchmark
queries (each analysis in analyses/benchmarks/ compiled beside its raw twin) and the materialized
views: the marts that are, and the maintained ones behind the real-time views."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orchestration.lib import database
from orchestration.lib import manifest as project
from orchestration.lib.analyses import AnalysisError, compiled_analysis
from orchestration.lib.database import ConnectionSettings
from orchestration.lib.dbt_runner import DbtCommandError
from orchestration.lib.maintained import maintained_relations
from orchestration.lib.settings import PROJECT_ROOT
from orchestration.tools.bench.dbt import compile_inline
from orchestration.tools.bench.options import BenchError, BenchOptions


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def quoted_relation(schema: str, identifier: str) -> str:
    return f"{quote_ident(schema)}.{quote_ident(identifier)}"


@dataclass(frozen=True)
class BenchmarkQuery:
    """A dashboard query on the marts and its raw twin on the source tables, compiled for one
    database; ``declared`` is the mart's ``meta`` entry that holds it to a budget, if any."""

    name: str
    sql: str
    raw_sql: str
    declared: project.Benchmark | None = None

    @property
    def model(self) -> str | None:
        return self.declared.model_name if self.declared else None

    @property
    def p95_budget_ms(self) -> float | None:
        return self.declared.p95_budget_ms if self.declared else None

    @property
    def max_rows(self) -> int | None:
        return self.declared.max_rows if self.declared else None

    @property
    def expect_index_scan(self) -> bool:
        return bool(self.declared and self.declared.expect_index_scan)


@dataclass(frozen=True)
class MaterializedView:
    name: str
    schema: str
    identifier: str
    cron: str | None
    spec_estimate: str | None
    concurrent_ok: bool
    rows: int
    # Maintained behind a real-time view (refreshed on every change of its tables), not a mart.
    maintained: bool = False
    # A maintained_table (merged on its key by its refresh procedure), not a materialized view.
    table: bool = False
    unique_id: str = ""
    selector: str = ""

    @property
    def relation(self) -> str:
        return quoted_relation(self.schema, self.identifier)


def _raw_twin(name: str) -> str:
    """The text of ``analyses/benchmarks/raw/<name>.sql`` (dbt does not parse it: it shares the
    analysis's name, so it is compiled inline)."""
    path = project.RAW_BENCHMARKS / f"{name}.sql"
    if not (PROJECT_ROOT / path).exists():
        raise BenchError(f"benchmark {name} has no raw twin: {path.as_posix()} is missing")
    return (PROJECT_ROOT / path).read_text()


def collect_benchmarks(
    manifest: Mapping[str, Any], settings: ConnectionSettings, options: BenchOptions
) -> list[BenchmarkQuery]:
    """Every analysis in analyses/benchmarks/ and every one a mart declares, with its raw twin."""
    declared = {item.analysis: item for item in project.benchmarks(manifest)}
    in_folder = {
        node["name"]
        for node in manifest.get("nodes", {}).values()
        if node.get("resource_type") == "analysis"
        and Path(node.get("original_file_path", "")).parent == project.BENCHMARKS
    }
    names = sorted(in_folder | set(declared))
    raw_sql = compile_inline({name: _raw_twin(name) for name in names}, settings, options)
    queries = []
    for name in names:
        try:
            sql = compiled_analysis(
                manifest,
                name,
                target=Path(options.target_path),
                settings=settings,
                source_schema=options.source_schema,
            )
        except (AnalysisError, DbtCommandError) as error:
            owner = declared[name].model_name if name in declared else "the project"
            raise BenchError(
                f"{owner} has benchmark {name!r} but it did not compile: {error}"
            ) from error
        queries.append(
            BenchmarkQuery(name=name, sql=sql, raw_sql=raw_sql[name], declared=declared.get(name))
        )
    return queries


def collect_views(
    manifest: Mapping[str, Any], settings: ConnectionSettings
) -> list[MaterializedView]:
    """The materialized views dbt built, as the database reports them: the marts' (latest
    versions), then the maintained relations behind the real-time views (refreshed on every change
    of their tables: concurrently, or merged on their key when they are maintained tables).

    A view's spec estimate is its ``meta.refresh.spec_estimate``.
    """
    marts = sorted(project.latest_mart_nodes(manifest).values(), key=lambda node: node["name"])
    nodes = manifest.get("nodes", {})
    maintained_ids = {relation.unique_id for relation in maintained_relations(manifest)}
    maintained = [nodes[unique_id] for unique_id in sorted(maintained_ids)]
    views = []
    with database.connect(settings, autocommit=True) as conn:
        for node in [*marts, *maintained]:
            schema, identifier = node.get("schema"), project.relation_name(node)
            is_table = (node.get("config") or {}).get("materialized") == "maintained_table"
            found = conn.execute(
                """
                select relations.oid,
                       exists (
                           select 1 from pg_index as indexes
                           where indexes.indrelid = relations.oid and indexes.indisunique
                             and indexes.indisvalid and indexes.indpred is null
                             and indexes.indexprs is null
                       )
                from pg_class as relations
                join pg_namespace as namespaces on namespaces.oid = relations.relnamespace
                where namespaces.nspname = %s and relations.relname = %s
                  and relations.relkind = (case when %s then 'r' else 'm' end)::"char"
                """,
                (schema, identifier, is_table),
            ).fetchone()
            if found is None:
                continue
            refresh = project.node_meta(node).get("refresh")
            estimate = refresh.get("spec_estimate") if isinstance(refresh, Mapping) else None
            relation = quoted_relation(schema, identifier)
            rows = conn.execute(f"select count(*) from {relation}").fetchone()[0]
            views.append(
                MaterializedView(
                    name=node["name"],
                    schema=schema,
                    identifier=identifier,
                    cron=project.refresh_cron(node),
                    spec_estimate=str(estimate) if estimate else None,
                    concurrent_ok=bool(found[1]),
                    rows=int(rows),
                    maintained=node["unique_id"] in maintained_ids,
                    table=is_table,
                    unique_id=node["unique_id"],
                    selector=project.dbt_selector(node),
                )
            )
    return views
