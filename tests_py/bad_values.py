"""The recipes of ``bad_rows.Generator`` that break a value in place: a number out of range
or not finite, a required value missing, text past its bound, an enumeration outside its set,
JSON of the wrong shape or over its size, a timestamp in the future. Each takes the rule and
the victim row and returns the ``Injected`` record, or None when the column cannot hold such a
value (the generator then tries another row or rule)."""

from __future__ import annotations

import json
from typing import Any

from psycopg import sql


class ValueRecipes:
    """Mixed into ``Generator``, which provides ``conn``, ``rng``, ``update`` and
    ``column_type``."""

    conn: Any
    rng: Any

    def _range(self, rule, row):
        kind, precision, scale = self.column_type(rule["table"], rule["column"])
        whole = kind in ("integer", "bigint", "smallint")
        room = 10 ** ((precision or 12) - (scale or 0)) - 1 if kind == "numeric" else 10**6
        sides = [side for side in ("min", "max") if rule.get(side) is not None]
        side = self.rng.choice(sides)
        bound = float(rule[side])
        step = self.rng.choice([1, 2, 5]) if whole else self.rng.choice([0.5, 1.25, 3])
        value = bound - step if side == "min" else bound + step
        if abs(value) >= room:
            return None
        value = int(value) if whole else round(value, scale if scale is not None else 2)
        self.update(rule["table"], row["id"], rule["column"], sql.SQL("%s"), (value,))
        return self.injected_row(rule, rule["table"], str(row["id"]))

    def _missing(self, rule, row):
        self.update(rule["table"], row["id"], rule["column"], sql.NULL)
        return self.injected_row(rule, rule["table"], str(row["id"]))

    def _nonfinite(self, rule, row):
        kind, precision, _ = self.column_type(rule["table"], rule["column"])
        if kind == "numeric" and precision is not None:
            value = "NaN"  # a numeric with a precision cannot hold an infinite value
        elif kind in ("numeric", "real", "double precision"):
            value = self.rng.choice(["NaN", "Infinity", "-Infinity"])
        elif kind.startswith("timestamp") or kind == "date":
            value = self.rng.choice(["infinity", "-infinity"])
        else:
            return None  # an integer column cannot hold one
        self.update(
            rule["table"],
            row["id"],
            rule["column"],
            sql.SQL("%s::{}").format(sql.SQL(kind)),
            (value,),
        )
        return self.injected_row(rule, rule["table"], str(row["id"]))

    def _too_long(self, rule, row):
        # past the bound, sometimes past what a btree index entry can hold
        extra = self.rng.choice([1, self.rng.randrange(2, 64), self.rng.randrange(2_800, 4_000)])
        length = int(rule["limit"]) + extra
        return self._rewrite(
            rule, row, "left(coalesce({}, '') || repeat('x', %s), %s)", length, length
        )

    def _bad_enum(self, rule, row):
        kind = self.column_type(rule["table"], rule["column"])[0]
        if kind == "USER-DEFINED" or self.rng.random() < 0.3:
            value = None
        else:
            value = f"zz_{self.rng.randrange(16**6):06x}"
        self.update(rule["table"], row["id"], rule["column"], sql.SQL("%s"), (value,))
        return self.injected_row(rule, rule["table"], str(row["id"]))

    def _malformed_json(self, rule, row):
        current = row.get(rule["column"])
        candidates = [json.dumps(value) for value in ("text", 42, True, [], [1, 2], None, {})]
        if isinstance(current, dict):
            for key, value in current.items():
                for wrong in ("text", 42, [], {"nested": 1}):
                    if type(wrong) is not type(value):
                        candidates.append(json.dumps({**current, key: wrong}))
                if isinstance(value, dict):
                    for inner, inner_value in value.items():
                        for wrong in ("text", [], {"nested": 1}):
                            if type(wrong) is not type(inner_value):
                                candidates.append(
                                    json.dumps({**current, key: {**value, inner: wrong}})
                                )
        predicate = rule["predicate"].replace("$json", "candidate.value")
        bad = [
            row_[0]
            for row_ in self.conn.execute(
                "select candidate.value::text from unnest(%s::jsonb[]) as candidate(value)"
                f" where coalesce(({predicate}), false)",
                (candidates,),
            ).fetchall()
        ]
        if not bad:
            return None
        self.update(
            rule["table"], row["id"], rule["column"], sql.SQL("%s::jsonb"), (self.rng.choice(bad),)
        )
        return self.injected_row(rule, rule["table"], str(row["id"]))

    def _oversized(self, rule, row):
        if not isinstance(row.get(rule["column"]), dict):
            return None
        extra = int(rule["limit"]) + self.rng.randrange(1, 4096)
        return self._rewrite(rule, row, "{} || jsonb_build_object('notes', repeat('x', %s))", extra)

    def _rewrite(self, rule, row, expression: str, *params: int):
        """Set the rule's column to ``expression`` of its value ({}) and ``params``."""
        self.update(
            rule["table"],
            row["id"],
            rule["column"],
            sql.SQL(expression).format(sql.Identifier(rule["column"])),
            params,
        )
        return self.injected_row(rule, rule["table"], str(row["id"]))

    def _future_timestamp(self, rule, row):
        hours = self.rng.randrange(26, 24 * 60)
        self.update(
            rule["table"],
            row["id"],
            rule["column"],
            sql.SQL("now() + make_interval(hours => %s)"),
            (hours,),
        )
        return self.injected_row(rule, rule["table"], str(row["id"]))
