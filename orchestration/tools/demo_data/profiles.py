"""Tenant profiles (how much of everything a large and a small tenant hold, from ``profiles.yml``)
and the volumes they add up to at a given scale."""

from __future__ import annotations

from dataclasses import dataclass, replace

from orchestration.tools.demo_data.catalogue import (
    FUNCTIONS,
    PILLARS,
    ROLE_TITLES,
    TENANT_PROFILES,
    VALUE_DRIVERS,
    FunctionSpec,
)


@dataclass(frozen=True)
class TenantProfile:
    """How much of everything one tenant holds."""

    kind: str
    industries: tuple[str, ...]
    functions: tuple[FunctionSpec, ...]
    role_titles: tuple[tuple[str, str], ...]
    personas: int
    jobs: int
    deleted_jobs: int
    workflows: int
    ai_opportunities: int
    value_metrics: int
    therapeutic_areas: tuple[str, ...]
    products: int
    diseases: int
    evidence: int
    users: int
    evaluations: int
    part: int = 0  # which share of a split profile (split_profile); only part 0 has drafts


def _profile(kind: str) -> TenantProfile:
    return TenantProfile(
        kind=kind,
        functions=FUNCTIONS[kind],
        role_titles=ROLE_TITLES[kind],
        **TENANT_PROFILES[kind],
    )


LARGE_TENANT = _profile("large")
SMALL_TENANT = _profile("small")

# What a split profile divides among its parts (the rest is each part's own: industries and
# therapeutic areas, a handful of rows per tenant).
SPLIT_COUNTS = (
    "personas",
    "jobs",
    "deleted_jobs",
    "workflows",
    "ai_opportunities",
    "value_metrics",
    "products",
    "diseases",
    "evidence",
    "users",
    "evaluations",
)


def split_profile(profile: TenantProfile, parts: int, part: int) -> TenantProfile:
    """Share ``part`` of ``parts`` of ``profile``: every ``parts``-th business function (with
    all its departments and role titles) and an even share of every count, so the parts together
    hold what the profile holds."""
    counts = {
        name: getattr(profile, name) // parts + (1 if part < getattr(profile, name) % parts else 0)
        for name in SPLIT_COUNTS
    }
    return replace(profile, functions=profile.functions[part::parts], part=part, **counts)


def tenant_profiles(scale: int, tenants: int | None = None) -> list[TenantProfile]:
    """The tenants' profiles at ``scale``: the first large tenant, the small one, the other
    large ones. With ``tenants`` above ``scale + 1``, the ``scale`` large tenants' volumes are
    shared among ``tenants - 1`` tenants (each large tenant split into as even a number of parts
    as they go), so the totals stay those of the scale."""
    if tenants is None or tenants == scale + 1:
        return [LARGE_TENANT, SMALL_TENANT, *[LARGE_TENANT] * (scale - 1)]
    most = scale * len(LARGE_TENANT.functions) + 1
    if not scale + 1 <= tenants <= most:
        raise ValueError(
            f"tenants must be from scale + 1 ({scale + 1}) to {most} at scale {scale}, "
            f"got {tenants}"
        )
    parts_per_large = [
        (tenants - 1) // scale + (1 if index < (tenants - 1) % scale else 0)
        for index in range(scale)
    ]
    larges = [
        split_profile(LARGE_TENANT, parts, part)
        for parts in parts_per_large
        for part in range(parts)
    ]
    return [larges[0], SMALL_TENANT, *larges[1:]]


# Averages of the per-row random counts, used for the expected volumes.
NON_PERSONA_ROLE_JOBS = 7.0  # 3-8 jobs per role without a persona, up to 12 to fill its year
PILLARS_PER_JOB = 1.7
OUTCOMES_PER_JOB = 3.0  # 2-4
STAGES_PER_WORKFLOW = 4.5  # 3-6
TASKS_PER_STAGE = 3.5  # 2-5
AUDIT_PER_EVALUATION = 3.05  # create + 1-3 more + delete for the soft-deleted
REF_OPPORTUNITY_SHARE = 0.8
RECENT_EVALUATION_SHARE = 0.18  # created in the 168 hours before the as-of date
SOFT_DELETED_EVALUATION_SHARE = 0.05


def _profile_volumes(profile: TenantProfile) -> dict[str, float]:
    roles = sum(len(spec.departments) for spec in profile.functions) * len(profile.role_titles)
    stages = profile.workflows * STAGES_PER_WORKFLOW
    return {
        "tenants": 1,
        "industries": len(profile.industries),
        "therapeutic_areas": len(profile.therapeutic_areas),
        "products": profile.products,
        "diseases": profile.diseases,
        "evidence": profile.evidence,
        "strategic_pillars": 0,
        "org_business_functions": len(profile.functions),
        "org_departments": sum(len(spec.departments) for spec in profile.functions),
        "org_roles": roles,
        "personas": profile.personas,
        "jtbd": profile.jobs,
        "jtbd_roles": profile.personas * profile.jobs
        + (roles - profile.personas) * NON_PERSONA_ROLE_JOBS,
        "jtbd_category_mappings": profile.jobs * PILLARS_PER_JOB,
        "jtbd_outcomes": profile.jobs * OUTCOMES_PER_JOB,
        "jtbd_odi_scores": profile.personas * profile.jobs,
        "jtbd_ai_suitability": profile.jobs,
        "ref_value_drivers": 0,
        "ai_opportunities": profile.ai_opportunities,
        "ref_opportunities": round(profile.jobs * REF_OPPORTUNITY_SHARE),
        "workflow_templates": profile.workflows,
        "workflow_stages": stages,
        "workflow_tasks": stages * TASKS_PER_STAGE,
        "value_metrics": profile.value_metrics,
        "users": profile.users,
        "user_preferences": profile.users,
        "business_evaluations": profile.evaluations,
        "professional_data_audit": profile.evaluations * AUDIT_PER_EVALUATION,
    }


def expected_volumes(scale: int, tenants: int | None = None) -> dict[str, int]:
    """Approximate rows per table at ``scale`` (random counts vary by a few percent)."""
    shares = [_profile_volumes(profile) for profile in tenant_profiles(scale, tenants)]
    volumes = {name: round(sum(share[name] for share in shares)) for name in shares[0]}
    volumes["strategic_pillars"] = len(PILLARS)
    volumes["ref_value_drivers"] = len(VALUE_DRIVERS)
    return volumes


def expected_heatmap_pairs(scale: int, tenants: int | None = None) -> int:
    """Heatmap pairs at ``scale``: every published persona's role is linked to every job."""

    def pairs(profile: TenantProfile) -> int:
        published = profile.personas - (2 if profile.kind == "large" and profile.part == 0 else 0)
        return published * (profile.jobs - profile.deleted_jobs)

    return sum(pairs(profile) for profile in tenant_profiles(scale, tenants))


EXPECTED_VOLUMES = expected_volumes(1)
