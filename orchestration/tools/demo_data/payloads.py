"""The JSON documents of a business evaluation: the company it describes (business_data), the
professional tier's metrics (professional_data), its valuation and its opportunities. Keys are in
camelCase, as the application stores them."""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

from orchestration.tools.demo_data.catalogue import (
    BUSINESS_CHALLENGES,
    BUSINESS_GOALS,
    BUSINESS_MODELS,
    COMPANY_PREFIXES,
    COMPANY_ROOTS,
    COMPANY_SUFFIXES,
    CUSTOMER_SEGMENTS,
    DIFFERENTIATORS,
    FISCAL_YEAR_ENDS,
    HEADQUARTERS,
    INDUSTRIES,
    LEVELS,
    OPPORTUNITY_TIMEFRAMES,
    OPPORTUNITY_TITLES,
    OWNERSHIPS,
    PEER_GROUPS,
    POSITIONINGS,
    REVENUE_BANDS,
    SERVED_CUSTOMERS,
    VALUATION_METHODS,
    RevenueBand,
)

COUNTRIES = [country for country, _city in HEADQUARTERS]


def business_data(rng: random.Random) -> tuple[dict[str, Any], RevenueBand]:
    """The company an evaluation describes, and its revenue band (the other documents'
    figures are drawn within it)."""
    industry, subsectors = rng.choice(INDUSTRIES)
    band = rng.choices(REVENUE_BANDS, weights=(10, 25, 25, 20, 12, 8))[0]
    country, city = rng.choice(HEADQUARTERS)
    name = (
        f"{rng.choice(COMPANY_PREFIXES)}{rng.choice(COMPANY_ROOTS)} {rng.choice(COMPANY_SUFFIXES)}"
    )
    subsector = rng.choice(subsectors)
    employees = rng.randint(*band.employees)
    data = {
        "companyName": name,
        "industry": industry,
        "subIndustry": subsector,
        "businessModel": rng.choice(BUSINESS_MODELS),
        "employees": employees,
        "revenueBand": band.label,
        "foundedYear": rng.randint(1965, 2022),
        "headquarters": {"country": country, "city": city},
        "ownership": rng.choice(OWNERSHIPS),
        "markets": sorted(rng.sample(COUNTRIES, rng.randint(1, 4))),
        "description": (
            f"{name} is a {subsector.lower()} company in {city} with {employees:,} employees, "
            f"serving {rng.choice(SERVED_CUSTOMERS)} across {rng.randint(1, 40)} countries."
        ),
        "goals": rng.sample(BUSINESS_GOALS, rng.randint(2, 3)),
        "challenges": rng.sample(BUSINESS_CHALLENGES, rng.randint(2, 3)),
        "fiscalYearEnd": rng.choice(FISCAL_YEAR_ENDS),
        "currency": "USD",
    }
    return data, band


def professional_data(rng: random.Random, band: RevenueBand, as_of: dt.date) -> dict[str, Any]:
    """Financial, customer, market, operational, risk and benchmark metrics of the professional
    and enterprise tiers."""
    uniform = rng.uniform
    revenue = int(uniform(*band.revenue))
    gross_margin = round(uniform(0.35, 0.85), 4)
    ebitda = int(revenue * uniform(-0.15, 0.35))
    active = rng.randint(20, 200_000)
    churn = round(uniform(0.01, 0.35), 4)
    return {
        "financialMetrics": {
            "annualRevenue": revenue,
            "netProfit": int(ebitda * uniform(0.4, 0.8)),
            "ebitda": ebitda,
            "grossMargin": gross_margin,
            "operatingMargin": round(ebitda / revenue, 4),
            "revenueGrowthRate": round(uniform(-0.1, 0.6), 4),
            "cashOnHand": int(revenue * uniform(0.05, 0.8)),
            "debtToEquity": round(uniform(0.0, 2.5), 2),
            "fiscalYear": as_of.year - 1,
        },
        "customerAnalytics": {
            "customerLifetimeValue": round(uniform(500, 250_000), 2),
            "churnRate": churn,
            "nps": rng.randint(-20, 80),
            "activeCustomers": active,
            "customerAcquisitionCost": round(uniform(50, 40_000), 2),
            "retentionRate": round(1 - churn, 4),
            "averageContractValue": round(uniform(1_000, 500_000), 2),
            "topSegments": rng.sample(CUSTOMER_SEGMENTS, 2),
        },
        "marketPosition": {
            "marketShare": round(uniform(0.001, 0.35), 4),
            "marketSize": int(revenue * uniform(5, 200)),
            "marketGrowthRate": round(uniform(0.0, 0.25), 4),
            "competitorCount": rng.randint(3, 60),
            "positioning": rng.choice(POSITIONINGS),
            "keyCompetitors": [
                f"{rng.choice(COMPANY_PREFIXES)}{rng.choice(COMPANY_ROOTS)}" for _ in range(3)
            ],
            "differentiators": rng.sample(DIFFERENTIATORS, 2),
        },
        "operationalMetrics": {
            "employeeProductivity": round(uniform(80_000, 600_000), 2),
            "capacityUtilization": round(uniform(0.5, 0.98), 4),
            "cycleTimeDays": round(uniform(2, 120), 1),
            "automationRate": round(uniform(0.05, 0.8), 4),
            "onTimeDelivery": round(uniform(0.7, 0.99), 4),
            "qualityIncidents": rng.randint(0, 40),
        },
        "riskAssessment": {
            "regulatoryRisk": rng.choice(LEVELS),
            "concentrationRisk": rng.choice(LEVELS),
            "keyPersonRisk": rng.choice(LEVELS),
            "overallRiskScore": rng.randint(5, 95),
        },
        "benchmarks": {
            "peerGroup": rng.choice(PEER_GROUPS),
            "revenueGrowthPercentile": rng.randint(1, 99),
            "marginPercentile": rng.randint(1, 99),
        },
    }


def valuations(rng: random.Random, band: RevenueBand) -> dict[str, Any]:
    """A valuation range from a revenue multiple, for a finished evaluation."""
    revenue = rng.uniform(*band.revenue)
    multiple = rng.uniform(1.5, 9.0)
    mid = int(revenue * multiple)
    return {
        "method": rng.choice(VALUATION_METHODS),
        "currency": "USD",
        "low": int(mid * rng.uniform(0.7, 0.9)),
        "mid": mid,
        "high": int(mid * rng.uniform(1.1, 1.4)),
        "multiples": {
            "evToRevenue": round(multiple, 2),
            "evToEbitda": round(rng.uniform(6, 25), 2),
        },
        "discountRate": round(rng.uniform(0.08, 0.16), 4),
        "terminalGrowth": round(rng.uniform(0.01, 0.04), 4),
    }


def opportunities(rng: random.Random) -> list[dict[str, Any]]:
    """Two to four opportunities of a finished evaluation."""
    return [
        {
            "title": title,
            "category": category,
            "impact": rng.choice(LEVELS),
            "effort": rng.choice(LEVELS),
            "estimatedValue": rng.randint(10, 5_000) * 1_000,
            "timeframeMonths": rng.choice(OPPORTUNITY_TIMEFRAMES),
        }
        for title, category in rng.sample(OPPORTUNITY_TITLES, rng.randint(2, 4))
    ]
