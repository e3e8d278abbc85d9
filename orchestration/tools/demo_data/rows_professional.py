"""Rows of the professional tier: business evaluations (three years of them, the last week
dense enough for the hourly views) and their audit trail."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator

from orchestration.tools.demo_data import payloads
from orchestration.tools.demo_data.catalogue import (
    ANALYSIS_DEPTH_WEIGHTS,
    ANALYSIS_DEPTHS,
    EVALUATION_STATUSES,
    SUBSCRIPTION_TIERS,
    UPDATE_FIELDS,
)
from orchestration.tools.demo_data.draws import hundredths, new_uuid
from orchestration.tools.demo_data.entities import Evaluation
from orchestration.tools.demo_data.profiles import (
    RECENT_EVALUATION_SHARE,
    SOFT_DELETED_EVALUATION_SHARE,
)
from orchestration.tools.demo_data.projection import Row
from orchestration.tools.demo_data.world import DemoPlan, TenantWorld


def evaluations(world: TenantWorld) -> Iterator[Evaluation]:
    """The evaluations' keys and times, drawn the same way for the table and its audit."""
    rng = world.rng("evaluations")
    anchor = world.plan.anchor
    user_ids = [user.id for user in world.users]
    week = 7 * 86400
    three_years = 3 * 365 * 86400
    timedelta = dt.timedelta
    choices = rng.choices
    for _ in range(world.profile.evaluations):
        evaluation_id = new_uuid(rng)
        user_id = rng.choice(user_ids)
        tier = choices(SUBSCRIPTION_TIERS, weights=(45, 35, 20))[0]
        if rng.random() < RECENT_EVALUATION_SHARE:
            created = anchor - timedelta(seconds=rng.randint(1, week - 1))
            status = choices(EVALUATION_STATUSES, weights=(8, 12, 70, 8, 2))[0]
        else:
            created = anchor - timedelta(seconds=rng.randint(week, three_years))
            status = choices(EVALUATION_STATUSES, weights=(4, 1, 70, 5, 20))[0]
        if status == "draft":
            seconds = rng.randint(0, 30)
        elif status == "processing":
            seconds = rng.randint(0, 60)
        elif status == "failed":
            seconds = rng.randint(5, 300)
        else:
            seconds = rng.randint(20, 900)
        updated = created + timedelta(seconds=seconds)
        if status == "archived" or rng.random() < 0.1:
            updated += timedelta(seconds=rng.randint(3600, 90 * 86400))
        updated = max(created, min(updated, anchor))
        deleted = None
        if rng.random() < SOFT_DELETED_EVALUATION_SHARE:
            deleted = max(
                updated, min(anchor, updated + timedelta(seconds=rng.randint(60, 120 * 86400)))
            )
        yield Evaluation(evaluation_id, user_id, tier, status, created, updated, deleted)


def evaluation_rows(plan: DemoPlan) -> Iterator[Row]:
    """Every evaluation describes a company; the paid tiers add professional data, and a
    finished one has its scores, valuation and opportunities."""
    dumps = json.JSONEncoder(separators=(",", ":")).encode
    for world in plan.worlds():
        rng = world.rng("evaluation_payloads")
        tenant_id = world.tenant.id
        for evaluation in evaluations(world):
            business, band = payloads.business_data(rng)
            professional = None
            if evaluation.tier != "basic":
                professional = dumps(payloads.professional_data(rng, band, plan.as_of))
            finished = evaluation.status in ("completed", "archived")
            health = confidence = None
            if finished:
                health = hundredths(rng.randint(1500, 9800))
                confidence = hundredths(rng.randint(4000, 9900))
            elif evaluation.status == "failed":
                confidence = hundredths(rng.randint(0, 3000))
            depth = rng.choices(ANALYSIS_DEPTHS, weights=ANALYSIS_DEPTH_WEIGHTS[evaluation.tier])[0]
            yield (
                evaluation.id,
                tenant_id,
                evaluation.user_id,
                evaluation.tier,
                dumps(business),
                professional,
                dumps(payloads.valuations(rng, band)) if finished else None,
                dumps(payloads.opportunities(rng)) if finished else None,
                health,
                confidence,
                evaluation.status,
                depth,
                1 if evaluation.updated_at == evaluation.created_at else rng.randint(1, 3),
                evaluation.created_at,
                evaluation.updated_at,
                evaluation.deleted_at,
            )


def audit_rows(plan: DemoPlan) -> Iterator[Row]:
    """An evaluation's creation, one to three later events within 60 days (views, updates,
    exports, tier upgrades on the paid tiers) and its deletion if soft-deleted, in time order."""
    anchor = plan.anchor
    timedelta = dt.timedelta
    later_kinds = ("view", "update", "export", "tier_upgrade")
    for world in plan.worlds():
        rng = world.rng("professional_data_audit")
        randint = rng.randint
        for evaluation in evaluations(world):
            professional = evaluation.tier != "basic"
            end = evaluation.deleted_at or anchor
            span = max(0, min(int((end - evaluation.created_at).total_seconds()), 60 * 86400))
            created_fields = (
                ["businessData", "professionalData"] if professional else ["businessData"]
            )
            events: list[tuple[dt.datetime, int, str, list[str]]] = [
                (evaluation.created_at, 0, "create", created_fields)
            ]
            weights = (45, 30, 15, 10 if professional else 0)
            for order in range(1, randint(1, 3) + 1):
                kind = rng.choices(later_kinds, weights=weights)[0]
                if kind == "update":
                    fields = sorted(rng.sample(UPDATE_FIELDS, randint(1, 3)))
                elif kind == "tier_upgrade":
                    fields = ["subscriptionTier", "professionalData"]
                else:
                    fields = []
                at = evaluation.created_at + timedelta(seconds=randint(0, span))
                events.append((at, order, kind, fields))
            if evaluation.deleted_at is not None:
                events.append((evaluation.deleted_at, 9, "delete", ["deletedAt"]))
            events.sort(key=lambda event: (event[0], event[1]))
            session = None
            for at, _, kind, fields in events:
                if kind == "create" or rng.random() < 0.5:
                    session = f"sess_{rng.getrandbits(64):016x}" if rng.random() < 0.85 else None
                yield (
                    new_uuid(rng),
                    evaluation.id,
                    evaluation.user_id,
                    kind,
                    fields,
                    session,
                    f"10.{randint(0, 255)}.{randint(0, 255)}.{randint(1, 254)}",
                    at,
                )
