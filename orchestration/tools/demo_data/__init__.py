"""Deterministic demo data for the VITAL source schema, loaded with COPY.

``load_demo_data`` fills a schema with the tables of ``vital_schema.sql``. Scale N gives N large
pharmaceutical tenants and one small digital-health tenant. At scale 1 the volumes are the
specification's: 43 personas, ~1,000 roles, ~700 jobs, ~400 workflows, ~27,000 persona x job
heatmap pairs, ~2,000 AI opportunities and ~5,000 value metrics, plus the professional tier's
evaluations and their audit trail.

The same seed, scale and as-of date give byte-identical data: every table and tenant draws from its
own seeded random stream, identifiers come from those streams, and every timestamp is an offset from
the as-of date at midnight UTC. Rows stream from generators into COPY, so memory stays flat as the
scale grows; only one tenant's reference lists (roles, jobs, workflows, users) are held at a time.

The modules, in the order the data flows:

- ``catalogue``: the names and values drawn from, read once from the package's YAML files;
- ``profiles``: how much a large and a small tenant hold, and the volumes expected at a scale;
- ``world``, ``jobs`` and ``entities``: the plan and each tenant's generated entities;
- ``rows_*``: one row generator per table, by ontology layer (``payloads`` draws the professional
  tier's JSON documents; ``projection`` maps entities onto a table's columns);
- ``ddl`` and ``tables``: the DDL's statements and column lists, and the tables in load order;
- ``load``: schema preparation, COPY, and the counts read back.
"""

from orchestration.tools.demo_data.catalogue import (
    ARCHETYPES,
    AUDIT_CHANGE_TYPES,
    COMPLEXITIES,
    EVALUATION_STATUSES,
    FREQUENCIES,
    ODI_CLASSIFICATIONS,
    OPPORTUNITY_STATUSES,
    SERVICE_LAYERS,
    SUBSCRIPTION_TIERS,
    VALUE_CATEGORIES,
)
from orchestration.tools.demo_data.ddl import DDL_PATH
from orchestration.tools.demo_data.draws import odi_opportunity
from orchestration.tools.demo_data.history import plan_states, replay_history
from orchestration.tools.demo_data.load import (
    DemoDataError,
    check_schema_name,
    heatmap_pair_count,
    load_demo_data,
    table_counts,
)
from orchestration.tools.demo_data.profiles import (
    EXPECTED_VOLUMES,
    expected_heatmap_pairs,
    expected_volumes,
)
from orchestration.tools.demo_data.tables import TABLE_NAMES, TABLES, TableSpec
from orchestration.tools.demo_data.world import (
    DIGITAL_HEALTH_TENANT_ID,
    PHARMA_TENANT_ID,
    DemoPlan,
    TenantWorld,
)

__all__ = [
    "ARCHETYPES",
    "AUDIT_CHANGE_TYPES",
    "COMPLEXITIES",
    "DDL_PATH",
    "DIGITAL_HEALTH_TENANT_ID",
    "EVALUATION_STATUSES",
    "EXPECTED_VOLUMES",
    "FREQUENCIES",
    "ODI_CLASSIFICATIONS",
    "OPPORTUNITY_STATUSES",
    "PHARMA_TENANT_ID",
    "SERVICE_LAYERS",
    "SUBSCRIPTION_TIERS",
    "TABLES",
    "TABLE_NAMES",
    "VALUE_CATEGORIES",
    "DemoDataError",
    "DemoPlan",
    "TableSpec",
    "TenantWorld",
    "check_schema_name",
    "expected_heatmap_pairs",
    "expected_volumes",
    "heatmap_pair_count",
    "load_demo_data",
    "odi_opportunity",
    "plan_states",
    "replay_history",
    "table_counts",
]
