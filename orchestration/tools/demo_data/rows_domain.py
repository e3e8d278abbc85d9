"""Rows of L0, tenancy and domain knowledge: tenants, industries, therapeutic areas, products,
diseases and evidence."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

from orchestration.tools.demo_data.catalogue import EVIDENCE_LEVELS, EVIDENCE_TITLES
from orchestration.tools.demo_data.draws import new_uuid
from orchestration.tools.demo_data.projection import Row, entity_rows
from orchestration.tools.demo_data.world import DemoPlan


def tenant_rows(plan: DemoPlan) -> Iterator[Row]:
    for tenant in plan.tenants:
        rng = plan.rng(tenant.index, "tenant")
        yield (tenant.id, tenant.name, tenant.slug, plan.ago(rng, 1100, 1400))


industry_rows = entity_rows("industries", lambda world: world.industries, industry_name="name")
therapeutic_area_rows = entity_rows("therapeutic_areas", lambda world: world.domain.areas)
product_rows = entity_rows(
    "products",
    lambda world: world.domain.products,
    therapeutic_area_id="area.id",
    product_name="name",
)
disease_rows = entity_rows(
    "diseases",
    lambda world: world.domain.diseases,
    therapeutic_area_id="area.id",
    disease_name="name",
)


def evidence_rows(plan: DemoPlan) -> Iterator[Row]:
    for world in plan.worlds():
        rng = world.rng("evidence")
        domain = world.domain
        for _ in range(world.profile.evidence):
            area = domain.areas[rng.randrange(len(domain.areas))]
            products = [product for product in domain.products if product.area is area]
            diseases = [disease for disease in domain.diseases if disease.area is area]
            kind = rng.choices(tuple(EVIDENCE_TITLES), weights=(20, 25, 10, 10, 10, 25))[0]
            product = rng.choice(products) if kind != "guideline" and products else None
            disease = rng.choice(diseases) if kind != "label" and diseases else None
            title = EVIDENCE_TITLES[kind].format(
                product=product.name if product else "standard of care",
                disease=disease.name if disease else "approved indications",
            )
            published = plan.as_of - dt.timedelta(days=rng.randint(30, 3650))
            yield (
                new_uuid(rng),
                world.tenant.id,
                product.id if product else None,
                disease.id if disease else None,
                kind,
                title,
                rng.choices(EVIDENCE_LEVELS, weights=(30, 35, 25, 10))[0],
                published,
                dt.datetime.combine(published, dt.time(), tzinfo=dt.timezone.utc)
                + dt.timedelta(days=rng.randint(1, 20)),
            )
