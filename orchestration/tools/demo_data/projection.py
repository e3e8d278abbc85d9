"""Rows and how a table's rows are projected from the world's entities.

A row generator takes the plan and yields one tuple per row, its values in the order of the
table's columns in the DDL (``ddl.columns``). Tables whose rows are a tenant's entities as they
are are projections: each column reads the entity's attribute of the same name, or the attribute
named for it, and ``tenant_id`` is the tenant's.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from operator import attrgetter
from typing import TYPE_CHECKING, Any

from orchestration.tools.demo_data.ddl import columns

if TYPE_CHECKING:
    from orchestration.tools.demo_data.world import DemoPlan, TenantWorld

Row = Sequence[Any]
RowSource = Callable[["DemoPlan"], Iterator[Row]]


def entity_rows(
    table: str, entities: Callable[[TenantWorld], Iterable[Any]], **attributes: str
) -> RowSource:
    """Rows of ``table``, one per entity ``entities`` gives for each tenant.

    ``attributes`` maps a column to the attribute it reads when the names differ (dotted for an
    attribute of a related entity, as ``role_id="role.id"``); every other column reads the
    attribute of its own name, and ``tenant_id``, unless mapped, is the tenant's id.
    """
    unknown = set(attributes) - set(columns(table))
    if unknown:
        raise ValueError(f"{table} has no column {', '.join(sorted(unknown))}")

    def rows(plan: DemoPlan) -> Iterator[Row]:
        getters = [
            None
            if name == "tenant_id" and name not in attributes
            else attrgetter(attributes.get(name, name))
            for name in columns(table)
        ]
        for world in plan.worlds():
            tenant_id = world.tenant.id
            for entity in entities(world):
                yield tuple(tenant_id if get is None else get(entity) for get in getters)

    return rows
