"""The catalogues of names and values the generator draws from, read once from the YAML files
beside this module:

- ``enumerations.yml``: the enumerated values of the source tables, in drawing order;
- ``organisation.yml``: strategic pillars, functions, departments, role titles, personas' traits
  and users' names (L1-L3);
- ``work.yml``: jobs, outcomes, workflows, value drivers, AI opportunities and metrics (L4-L7);
- ``domain.yml``: extra tenants' names, therapeutic areas, products and evidence (L0);
- ``companies.yml``: the companies behind the professional tier's evaluations;
- ``profiles.yml``: how much of everything a large and a small tenant hold.

Lists become tuples, so no generator can change a catalogue another one reads. The order of every
list and mapping is the order of the draws: reordering a file changes the data.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, NamedTuple

import yaml

CATALOGUE_DIR = Path(__file__).parent


def _frozen(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_frozen(item) for item in value)
    if isinstance(value, dict):
        return {key: _frozen(item) for key, item in value.items()}
    return value


def read(name: str) -> dict[str, Any]:
    """The catalogue file ``<name>.yml``, its lists as tuples."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with (CATALOGUE_DIR / f"{name}.yml").open(encoding="utf-8") as file:
        return _frozen(yaml.load(file, Loader=loader))


class Pillar(NamedTuple):
    code: str
    name: str
    description: str
    okr: str
    theme: str


class FunctionSpec(NamedTuple):
    """A business function: its departments, the objects its jobs act on, its first pillars."""

    name: str
    departments: tuple[str, ...]
    objects: tuple[str, ...]
    pillars: tuple[str, ...]


class Traits(NamedTuple):
    """An archetype's AI maturity range and its ODI score biases (hundredths)."""

    ai_maturity: tuple[float, float]
    importance_bias: int
    satisfaction_bias: int


class ValueDriver(NamedTuple):
    code: str
    name: str
    category: str
    description: str


class AreaSpec(NamedTuple):
    """A therapeutic area's name and its (disease, ICD-10 code) pairs."""

    name: str
    diseases: tuple[tuple[str, str], ...]


class RevenueBand(NamedTuple):
    label: str
    revenue: tuple[int, int]
    employees: tuple[int, int]


_enumerations = read("enumerations")
ARCHETYPES: tuple[str, ...] = _enumerations["archetypes"]
LIFECYCLE_STAGES: tuple[str, ...] = _enumerations["lifecycle_stages"]
EVIDENCE_LEVELS: tuple[str, ...] = _enumerations["evidence_levels"]
COMPLEXITIES: tuple[str, ...] = _enumerations["complexities"]
FREQUENCIES: tuple[str, ...] = _enumerations["frequencies"]
JOB_STATUSES: tuple[str, ...] = _enumerations["job_statuses"]
ODI_CLASSIFICATIONS: tuple[str, ...] = _enumerations["odi_classifications"]
SERVICE_LAYERS: tuple[str, ...] = _enumerations["service_layers"]
WORKFLOW_STATUSES: tuple[str, ...] = _enumerations["workflow_statuses"]
AUTOMATION_LEVELS: tuple[str, ...] = _enumerations["automation_levels"]
VALUE_CATEGORIES: tuple[str, ...] = _enumerations["value_categories"]
OPPORTUNITY_STATUSES: tuple[str, ...] = _enumerations["opportunity_statuses"]
PRIORITIES: tuple[str, ...] = _enumerations["priorities"]
DEFAULT_VIEWS: tuple[str, ...] = _enumerations["default_views"]
SUBSCRIPTION_TIERS: tuple[str, ...] = _enumerations["subscription_tiers"]
EVALUATION_STATUSES: tuple[str, ...] = _enumerations["evaluation_statuses"]
ANALYSIS_DEPTHS: tuple[str, ...] = _enumerations["analysis_depths"]
AUDIT_CHANGE_TYPES: tuple[str, ...] = _enumerations["audit_change_types"]

_organisation = read("organisation")
PILLARS = tuple(Pillar(**pillar) for pillar in _organisation["strategic_pillars"])
FUNCTIONS: dict[str, tuple[FunctionSpec, ...]] = {
    kind: tuple(FunctionSpec(**spec) for spec in specs)
    for kind, specs in _organisation["functions"].items()
}
ROLE_TITLES: dict[str, tuple[tuple[str, str], ...]] = {
    kind: tuple(titles.items()) for kind, titles in _organisation["role_titles"].items()
}
HEADCOUNTS: dict[str, tuple[int, int]] = _organisation["headcounts"]
PERSONA_SENIORITIES: tuple[str, ...] = _organisation["persona_seniorities"]
PERSONA_ANCHOR_ROLE: str = _organisation["persona_anchor_role"]
PERSONA_ADJECTIVES: dict[str, tuple[str, ...]] = _organisation["persona_adjectives"]
ARCHETYPE_TRAITS = {
    archetype: Traits(**traits) for archetype, traits in _organisation["archetype_traits"].items()
}
FIRST_NAMES: tuple[str, ...] = _organisation["first_names"]
LAST_NAMES: tuple[str, ...] = _organisation["last_names"]
MIN_OPPORTUNITY_SCORES: tuple[int, ...] = _organisation["min_opportunity_scores"]

_work = read("work")
JOB_ACTIONS: tuple[str, ...] = _work["job_actions"]
JOB_SITUATIONS: tuple[str, ...] = _work["job_situations"]
JOB_BENEFITS: tuple[str, ...] = _work["job_benefits"]
OUTCOME_TEMPLATES: tuple[str, ...] = _work["outcome_templates"]
SUITABILITY_BY_FREQUENCY: dict[str, int] = _work["suitability_by_frequency"]
RUNS_PER_YEAR: dict[str, int] = _work["runs_per_year"]
FULL_TIME_HOURS: int = _work["full_time_hours"]
UTILISATION_RANGE: tuple[float, float] = tuple(_work["utilisation_range"])
SERVICE_LAYER_WEIGHTS: dict[str, tuple[int, ...]] = _work["service_layer_weights"]
WORKFLOW_VARIANTS: tuple[str, ...] = _work["workflow_variants"]
STAGE_NAMES: tuple[str, ...] = _work["stage_names"]
TASK_NAMES: tuple[str, ...] = _work["task_names"]
AUTOMATABLE_SHARE: dict[str, float] = _work["automatable_share"]
VALUE_DRIVERS = tuple(ValueDriver(**driver) for driver in _work["value_drivers"])
OPPORTUNITY_TOOLS: tuple[str, ...] = _work["opportunity_tools"]
HOURS_SAVED_BY_FREQUENCY: dict[str, tuple[int, int]] = _work["hours_saved_by_frequency"]
METRIC_STEMS: dict[str, tuple[tuple[str, str], ...]] = {
    category: tuple(stems.items()) for category, stems in _work["metric_stems"].items()
}

_domain = read("domain")
EXTRA_TENANT_NAMES: tuple[str, ...] = _domain["extra_tenant_names"]
THERAPEUTIC_AREAS = {
    code: AreaSpec(area["name"], tuple(area["diseases"].items()))
    for code, area in _domain["therapeutic_areas"].items()
}
PRODUCT_PREFIXES: tuple[str, ...] = _domain["product_prefixes"]
PRODUCT_SUFFIXES: tuple[str, ...] = _domain["product_suffixes"]
EVIDENCE_TITLES: dict[str, str] = _domain["evidence_titles"]

_companies = read("companies")
COMPANY_PREFIXES: tuple[str, ...] = _companies["company_prefixes"]
COMPANY_ROOTS: tuple[str, ...] = _companies["company_roots"]
COMPANY_SUFFIXES: tuple[str, ...] = _companies["company_suffixes"]
INDUSTRIES: tuple[tuple[str, tuple[str, ...]], ...] = tuple(_companies["industries"].items())
REVENUE_BANDS = tuple(RevenueBand(**band) for band in _companies["revenue_bands"])
HEADQUARTERS: tuple[tuple[str, str], ...] = _companies["headquarters"]
BUSINESS_MODELS: tuple[str, ...] = _companies["business_models"]
OWNERSHIPS: tuple[str, ...] = _companies["ownerships"]
SERVED_CUSTOMERS: tuple[str, ...] = _companies["served_customers"]
FISCAL_YEAR_ENDS: tuple[str, ...] = _companies["fiscal_year_ends"]
BUSINESS_GOALS: tuple[str, ...] = _companies["business_goals"]
BUSINESS_CHALLENGES: tuple[str, ...] = _companies["business_challenges"]
CUSTOMER_SEGMENTS: tuple[str, ...] = _companies["customer_segments"]
POSITIONINGS: tuple[str, ...] = _companies["positionings"]
DIFFERENTIATORS: tuple[str, ...] = _companies["differentiators"]
PEER_GROUPS: tuple[str, ...] = _companies["peer_groups"]
LEVELS: tuple[str, ...] = _companies["levels"]
VALUATION_METHODS: tuple[str, ...] = _companies["valuation_methods"]
OPPORTUNITY_TITLES: tuple[tuple[str, str], ...] = tuple(_companies["opportunity_titles"].items())
OPPORTUNITY_TIMEFRAMES: tuple[int, ...] = _companies["opportunity_timeframes"]
ANALYSIS_DEPTH_WEIGHTS: dict[str, tuple[int, ...]] = _companies["analysis_depth_weights"]
UPDATE_FIELDS: tuple[str, ...] = _companies["update_fields"]

TENANT_PROFILES: dict[str, dict[str, Any]] = read("profiles")
