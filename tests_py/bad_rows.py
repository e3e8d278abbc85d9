"""Bad source rows made from the quarantine's own catalogue, for the test that runs tier jobs.

``catalogue`` reads every rule of macros/quality (``quality_all_rules()``) and the table facts
(``quality_tables()``) through dbt, so a rule or a class added there is generated here without a
list to keep in step. ``Generator`` turns one rule into one bad row of a live source row that
nothing references (so rejecting it moves no other count) and records what it changed, so the
test knows what every rule and every table must gain. A class it has no recipe for is an
error, never a silent gap.
"""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from bad_values import ValueRecipes
from psycopg import sql

from orchestration.lib import database, dbt_runner

ORDER_DEFAULT = ("created_at", "id")
# victims tried per rule: a recipe may need a value the first one lacks (a JSON document)
VICTIM_TRIES = 6


def catalogue(target: Path, env: Mapping[str, str]) -> tuple[list[dict], dict[str, dict]]:
    """Every quarantine rule and the facts of every quarantined table, as dbt compiles them."""

    run = dbt_runner.run_dbt(
        ["compile", "--quiet", "--inline", "{{ tojson([quality_all_rules(), quality_tables()]) }}"],
        target_path=target,
        env=env,
    )
    rules, tables = json.loads(run.stdout.strip().splitlines()[-1])
    return rules, tables


def copy_database(source: database.ConnectionSettings, copy: database.ConnectionSettings) -> None:
    """``copy`` made as a file copy of ``source`` (CREATE DATABASE ... TEMPLATE), which must have
    no other session: those left on it (all of them a test's) are ended first."""
    with database.connect(source.with_database("postgres"), autocommit=True) as conn:
        conn.execute(
            "select pg_terminate_backend(pid) from pg_stat_activity"
            " where datname = %s and pid <> pg_backend_pid()",
            (source.dbname,),
        )
        conn.execute(
            sql.SQL("create database {} template {}").format(
                sql.Identifier(copy.dbname), sql.Identifier(source.dbname)
            )
        )


@dataclass(frozen=True)
class Injected:
    """One bad row: the rule it breaks, the source row's id (None when the id itself is null)."""

    rule: Mapping[str, Any]
    table: str
    row_id: str | None
    rows: int = 1
    # the row a duplicate repeats: left alone by later rules, or the copy would be the one kept
    original: str | None = None

    @property
    def rejected(self) -> bool:
        return self.rule["disposition"] == "rejected"

    def __str__(self) -> str:
        row = f"row {self.row_id}" if self.row_id else "a row with a null id"
        copies = f" ({self.rows} copies)" if self.rows > 1 else ""
        return (
            f"{self.table}.{self.rule['column']} {self.rule['check']} ({self.rule['disposition']},"
            f" {self.rule['test_name']}): {row}{copies}"
        )


@dataclass
class Generator(ValueRecipes):
    """Bad rows put in through ``conn`` (committed by the caller), and what they must move."""

    conn: Any
    tables: Mapping[str, Mapping[str, Any]]
    schemas: Mapping[str, str]
    rng: random.Random
    injected: list[Injected] = field(default_factory=list)
    fresh: list[tuple[str, str]] = field(default_factory=list)
    references: set[str] | None = None

    # -- helpers -----------------------------------------------------------------------

    def table(self, name: str) -> sql.Composable:
        return sql.Identifier(self.schemas[self.tables[name]["source"]], name)

    def column_type(self, table: str, column: str) -> tuple[str, int | None, int | None]:
        row = self.conn.execute(
            "select data_type, numeric_precision, numeric_scale from information_schema.columns"
            " where table_schema = %s and table_name = %s and column_name = %s",
            (self.schemas[self.tables[table]["source"]], table, column),
        ).fetchone()
        assert row is not None, (table, column)
        return row

    def touched(self) -> set[tuple[str, str]]:
        return {
            (i.table, row_id) for i in self.injected for row_id in (i.row_id, i.original) if row_id
        }

    def referenced(self) -> set[str]:
        """Every id that a uuid column of the catalogue's source tables (other than their own
        ids) holds, read once; ``point_at`` adds the parents the bad rows are pointed at."""
        if self.references is None:
            columns = [
                (spec["source"], name, column)
                for name, spec in self.tables.items()
                for (column,) in self.conn.execute(
                    "select column_name::text from information_schema.columns"
                    " where table_schema = %s and table_name = %s and data_type = 'uuid'"
                    " and column_name <> 'id'",
                    (self.schemas[spec["source"]], name),
                ).fetchall()
            ]
            query = sql.SQL(" union ").join(
                sql.SQL("select {}::text from {}").format(
                    sql.Identifier(column), sql.Identifier(self.schemas[source], name)
                )
                for source, name, column in columns
            )
            self.references = {row[0] for row in self.conn.execute(query) if row[0]}
        return self.references

    def point_at(self, rule: Mapping[str, Any], row: Mapping[str, Any], parent: Any) -> None:
        """Set the rule's foreign key of ``row`` to ``parent``."""
        self.update(rule["table"], row["id"], rule["column"], sql.SQL("%s"), (parent,))
        self.referenced().add(str(parent))

    def clean_rows(self, table: str) -> list[str]:
        """The ids of the live rows of ``table`` with no finding in its quarantine, an id of
        their own, and not yet used by this example."""
        spec = self.tables[table]
        clauses = [sql.SQL("rows.id is not null")]
        if spec.get("soft_delete"):
            clauses.append(sql.SQL("rows.deleted_at is null"))
        clauses.append(
            sql.SQL(
                "not exists (select 1 from value_view_quarantine.{} as found"
                " where found.row_id = rows.id)"
            ).format(sql.Identifier(f"quarantine_{table}"))
        )
        clauses.append(
            # one anti-join, not a count per row: the source has lost its primary key index
            sql.SQL(
                "rows.id not in (select same.id from {} as same where same.id is not null"
                " group by same.id having count(*) > 1)"
            ).format(self.table(table))
        )
        used = [row_id for name, row_id in self.touched() if name == table]
        return [
            row[0]
            for row in self.conn.execute(
                sql.SQL(
                    "select rows.id::text from {} as rows where {}"
                    " and not rows.id::text = any(%s) order by rows.id"
                ).format(self.table(table), sql.SQL(" and ").join(clauses)),
                (used,),
            ).fetchall()
        ]

    def row(self, table: str, row_id: str) -> dict:
        """The source row ``row_id`` of ``table`` as JSON."""
        return self.conn.execute(
            sql.SQL("select to_jsonb(rows) from {} as rows where rows.id = %s").format(
                self.table(table)
            ),
            (row_id,),
        ).fetchone()[0]

    def victim(self, table: str) -> dict | None:
        """A random clean row of ``table`` that no source row references (so rejecting it moves
        no other count), else a fresh copy of a clean row under a new id."""
        ids = self.clean_rows(table)
        self.rng.shuffle(ids)
        referenced = self.referenced()
        for row_id in ids:
            if row_id not in referenced:
                return self.row(table, row_id)
        return self.fresh_copy(table, ids)

    def fresh_copy(self, table: str, ids: list[str]) -> dict | None:
        if not ids:
            return None
        copy = self.row(table, self.rng.choice(ids))
        spec = self.tables[table]
        for unique in spec.get("unique") or []:
            column = unique["column"]
            kind = self.column_type(table, column)[0]
            if kind in ("text", "character varying") and column not in spec.get("enums", {}):
                copy[column] = f"{copy[column]}-{self.rng.randrange(10**9)}"
            elif kind in ("integer", "bigint", "smallint"):
                copy[column] = 10**6 + self.rng.randrange(10**6)
            else:
                return None
        copy["id"] = str(uuid.UUID(int=self.rng.getrandbits(128), version=4))
        self.insert(table, copy)
        self.fresh.append((table, copy["id"]))
        return copy

    def update(
        self, table: str, row_id: str, column: str, value: sql.Composable, params=()
    ) -> None:
        self.conn.execute(
            sql.SQL("update {} set {} = {} where id = %s").format(
                self.table(table), sql.Identifier(column), value
            ),
            (*params, row_id),
        )

    def unique_clash(self, table: str, row_id: str) -> bool:
        """Whether the row now repeats a unique code of its table (a second finding)."""
        spec = self.tables[table]
        for unique in spec.get("unique") or []:
            columns = [*unique.get("within", []), unique["column"]]
            live = "and others.deleted_at is null" if spec.get("soft_delete") else ""
            matches = sql.SQL(" and ").join(
                sql.SQL("others.{0} = mine.{0}").format(sql.Identifier(c)) for c in columns
            )
            clash = self.conn.execute(
                sql.SQL(
                    "select exists (select 1 from {0} as mine inner join {0} as others"
                    " on {1} and others.id <> mine.id " + live + " where mine.id = %s)"
                ).format(self.table(table), matches),
                (row_id,),
            ).fetchone()[0]
            if clash:
                return True
        return False

    def parent_row(self, rule: Mapping[str, Any], row: Mapping[str, Any], where: str) -> Any:
        parent = rule["parent"]
        rows = self.conn.execute(
            sql.SQL("select parents.id from {} as parents where {} order by parents.id").format(
                self.table(parent), sql.SQL(where)
            ),
            {"tenant": row.get("tenant_id")},
        ).fetchall()
        return self.rng.choice(rows)[0] if rows else None

    # -- one rule ----------------------------------------------------------------------

    def inject(self, rule: Mapping[str, Any], row: Mapping[str, Any] | None = None) -> bool:
        """Break ``rule`` in a fresh victim row (or in ``row``, to combine classes); False when
        no row tried (up to VICTIM_TRIES victims) can take it without side effects."""
        if getattr(self, f"_{rule['check']}", None) is None:
            raise AssertionError(f"no generator for quarantine class {rule['check']!r}")
        tries = 1 if row is not None else VICTIM_TRIES
        return any(self._inject_once(rule, row) for _ in range(tries))

    def _inject_once(self, rule: Mapping[str, Any], row: Mapping[str, Any] | None) -> bool:
        recipe = getattr(self, f"_{rule['check']}")
        table = rule["table"]
        fresh = len(self.fresh)
        self.conn.execute("savepoint injecting")
        row = row or self.victim(table)
        try:
            injected = recipe(rule, row) if row is not None else None
        except (psycopg.errors.DataError, psycopg.errors.ProgramLimitExceeded):
            # the column cannot hold this bad value (its type, or an index entry's size)
            injected = None
        clash = (
            injected is not None
            and injected.row_id is not None
            and rule["check"] != "duplicate"
            and self.unique_clash(table, injected.row_id)
        )
        if injected is None or clash:
            self.conn.execute("rollback to savepoint injecting")
            del self.fresh[fresh:]
            return False
        self.conn.execute("release savepoint injecting")
        self.injected.append(injected)
        return True

    def _null_key(self, rule, row):
        column = rule["column"]
        if column == "id":
            self.update(rule["table"], row["id"], "id", sql.NULL)
            return Injected(rule, rule["table"], None)
        self.update(rule["table"], row["id"], column, sql.NULL)
        return Injected(rule, rule["table"], str(row["id"]))

    def _duplicate_key(self, rule, row):
        spec = self.tables[rule["table"]]
        copy = dict(row)
        for unique in spec.get("unique") or []:
            kind = self.column_type(rule["table"], unique["column"])[0]
            if kind in ("text", "character varying"):
                copy[unique["column"]] = f"{row[unique['column']]}-{self.rng.randrange(10**9)}"
            elif kind in ("integer", "bigint", "smallint"):
                copy[unique["column"]] = 10**6 + self.rng.randrange(10**6)
            else:
                return None
        self.insert(rule["table"], copy)
        return Injected(rule, rule["table"], str(row["id"]), rows=2)

    def _duplicate(self, rule, row):
        spec = self.tables[rule["table"]]
        copy = dict(row)
        new_id = uuid.UUID(int=self.rng.getrandbits(128), version=4)
        while new_id <= uuid.UUID(str(row["id"])):
            new_id = uuid.UUID(int=self.rng.getrandbits(128), version=4)
        copy["id"] = str(new_id)
        for key in [*(spec.get("order") or ORDER_DEFAULT), rule["column"], *rule["within"]]:
            if key != "id" and copy.get(key) is None:
                return None
        self.insert(rule["table"], copy)
        for key in spec.get("order") or ORDER_DEFAULT:
            if key != "id":
                self.update(
                    rule["table"],
                    copy["id"],
                    key,
                    sql.SQL("{} + interval '1 second'").format(sql.Identifier(key)),
                )
        return Injected(rule, rule["table"], copy["id"], original=str(row["id"]))

    def _orphan(self, rule, row):
        if rule["column"] == "tenant_id":
            return None
        self.update(rule["table"], row["id"], rule["column"], sql.SQL("gen_random_uuid()"))
        return Injected(rule, rule["table"], str(row["id"]))

    def _clean_parent(self, rule, row, condition: str):
        parent = rule["parent"]
        live = "parents.deleted_at is null and " if self.tables[parent].get("soft_delete") else ""
        published = "parents.validation_status = 'published' and " if parent == "personas" else ""
        clean = (
            "not exists (select 1 from value_view_quarantine.quarantine_"
            + parent
            + " as found where found.row_id = parents.id)"
        )
        return self.parent_row(rule, row, live + published + condition + " and " + clean)

    def _cross_tenant(self, rule, row):
        parent = self._clean_parent(rule, row, "parents.tenant_id <> %(tenant)s")
        if parent is None:
            return None
        self.point_at(rule, row, parent)
        return Injected(rule, rule["table"], str(row["id"]))

    def _parent_deleted(self, rule, row):
        return self._same_tenant_parent(rule, row, "parents.deleted_at is not null")

    def _unpublished_persona(self, rule, row):
        return self._same_tenant_parent(
            rule, row, "parents.validation_status <> 'published' and parents.id is not null"
        )

    def _same_tenant_parent(self, rule, row, condition: str):
        """Point the rule's foreign key at a parent of the row's tenant that meets ``condition``."""
        same = "parents.tenant_id = %(tenant)s and " if row.get("tenant_id") else ""
        parent = self.parent_row(rule, row, same + condition)
        if parent is None:
            return None
        self.point_at(rule, row, parent)
        return Injected(rule, rule["table"], str(row["id"]))

    def injected_row(self, rule: Mapping[str, Any], table: str, row_id: str) -> Injected:
        return Injected(rule, table, row_id)

    # -- rows in and out ---------------------------------------------------------------

    def insert(self, table: str, row: Mapping[str, Any]) -> None:
        self.conn.execute(
            sql.SQL("insert into {0} select * from jsonb_populate_record(null::{0}, %s)").format(
                self.table(table)
            ),
            (json.dumps(row),),
        )

    # -- what must follow --------------------------------------------------------------

    def expected_findings(self) -> dict[str, int]:
        """Rows each named test must gain."""
        return _sum([(item.rule["test_name"], item.rows) for item in self.injected])

    def expected_rows(self) -> dict[str, dict[str, int]]:
        """Per table: source rows added, live rows rejected, live rows flagged only (each row
        once, however many rules it breaks)."""
        found: dict[str, dict[str, int]] = {}
        by_row: dict[tuple[str, str], list[Injected]] = {}
        for item in self.injected:
            key = (item.table, item.row_id or f"null:{id(item)}")
            by_row.setdefault(key, []).append(item)
        for table, _ in self.fresh:
            found.setdefault(table, {"source": 0, "rejected": 0, "flagged": 0})["source"] += 1
        for (table, _), items in by_row.items():
            counts = found.setdefault(table, {"source": 0, "rejected": 0, "flagged": 0})
            rows = max(item.rows for item in items)
            added = rows - 1 + sum(1 for item in items if item.rule["check"] == "duplicate")
            counts["source"] += added
            if any(item.rejected for item in items):
                counts["rejected"] += rows
            else:
                counts["flagged"] += rows
        return found


def _sum(pairs: Sequence[tuple[str, int]]) -> dict[str, int]:
    total: dict[str, int] = {}
    for name, rows in pairs:
        total[name] = total.get(name, 0) + rows
    return total
