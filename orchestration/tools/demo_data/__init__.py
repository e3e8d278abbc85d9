"""Deterministic demo data for the VITAL source schema, loaded with COPY.

``load_demo_data`` fills a schema with the tables of ``sql/vital_schema.sql``. Scale N gives N
large pharmaceutical tenants and one small digital-health tenant. At scale 1 the volumes are the
specification's: 43 personas, ~1,000 roles, ~700 jobs, ~400 workflows, ~27,000 persona x job
heatmap pairs, ~2,000 AI opportunities and ~5,000 value metrics, plus the professional tier's
evaluations and their audit trail.

The same seed, scale and as-of date give byte-identical data: every table and tenant draws from its
own seeded random stream, identifiers come from those streams, and every timestamp is an offset from
the as-of date at midnight UTC. Rows stream from generators into COPY, so memory stays flat as the
scale grows; only one tenant's reference lists (roles, jobs, workflows, users) are held at a time.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import re
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from orchestration.lib import database
from orchestration.lib import settings as project_settings

DDL_PATH = Path(__file__).with_name("vital_schema.sql")
SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")

PHARMA_TENANT_ID = "f7aa6fd4-0af9-4706-8b31-034f1f7accda"
DIGITAL_HEALTH_TENANT_ID = "590d9e40-b628-4678-8cec-839d0b4fe968"

ARCHETYPES = ("AUTOMATOR", "ORCHESTRATOR", "LEARNER", "SKEPTIC")
COMPLEXITIES = ("low", "medium", "high", "very_high")
FREQUENCIES = ("daily", "weekly", "monthly", "quarterly", "annually")
SERVICE_LAYERS = ("ask_me", "ask_expert", "ask_panel", "workflow")
VALUE_CATEGORIES = ("time", "cost", "quality", "risk", "strategic_impact")
ODI_CLASSIFICATIONS = ("highly_underserved", "underserved", "appropriately_served", "overserved")
SUBSCRIPTION_TIERS = ("basic", "professional", "enterprise")
EVALUATION_STATUSES = ("draft", "processing", "completed", "failed", "archived")
AUDIT_CHANGE_TYPES = ("create", "update", "tier_upgrade", "view", "export", "delete")

# Heatmap pairs: published personas x live jobs linked to the persona's role, in the same tenant.
HEATMAP_PAIRS_SQL = """
select count(*)
from {schema}.personas as personas
inner join {schema}.jtbd_roles as jtbd_roles on jtbd_roles.role_id = personas.role_id
inner join {schema}.jtbd as jobs
    on jobs.id = jtbd_roles.jtbd_id and jobs.tenant_id = personas.tenant_id
where personas.validation_status = 'published' and jobs.deleted_at is null
"""


class DemoDataError(RuntimeError):
    """The demo data cannot be loaded as asked; the message is one line."""


# --------------------------------------------------------------------------------------
# Reference catalogues
# --------------------------------------------------------------------------------------

PILLARS = (
    (
        "SP01",
        "Scientific Leadership",
        "Advance the science behind every product and communicate it credibly.",
        "Publish 12 peer-reviewed papers and validate 3 new mechanisms a year",
        "Science",
    ),
    (
        "SP02",
        "Patient Outcomes",
        "Improve the outcomes and experience of the patients our products serve.",
        "Show a measurable outcome gain in every launched indication",
        "Patients",
    ),
    (
        "SP03",
        "Regulatory Compliance",
        "Stay inspection-ready and compliant in every market, first time.",
        "Zero critical inspection findings and 100% on-time submissions",
        "Compliance",
    ),
    (
        "SP04",
        "Operational Excellence",
        "Run lean, reliable processes with less manual effort and rework.",
        "Cut cycle time of the top 20 processes by 30%",
        "Operations",
    ),
    (
        "SP05",
        "Market Access & Commercial Value",
        "Secure access and demonstrate value to payers, prescribers and patients.",
        "Reach reimbursement in 25 markets within 12 months of approval",
        "Growth",
    ),
    (
        "SP06",
        "Digital & AI Transformation",
        "Put data and AI to work in every function, safely and at scale.",
        "Move 40% of eligible work to AI-assisted or automated execution",
        "Digital",
    ),
    (
        "SP07",
        "Talent & Capability",
        "Build the skills and ways of working the organisation needs next.",
        "Every employee completes an AI-readiness learning path",
        "People",
    ),
)

VALUE_DRIVERS = (
    ("VD01", "Cycle Time Reduction", "time", "Shorter elapsed time from trigger to outcome."),
    ("VD02", "Manual Effort Reduction", "time", "Fewer hours of manual work per cycle."),
    ("VD03", "Faster Decision Making", "time", "Decisions reached sooner with the right evidence."),
    ("VD04", "Operating Cost Reduction", "cost", "Lower internal cost to run the process."),
    ("VD05", "External Spend Avoidance", "cost", "Less spend on agencies and contractors."),
    ("VD06", "Resource Reallocation", "cost", "Capacity freed for higher-value work."),
    ("VD07", "Error Rate Reduction", "quality", "Fewer errors, deviations and corrections."),
    ("VD08", "Consistency & Standardisation", "quality", "The same answer every time."),
    ("VD09", "Data Quality Improvement", "quality", "More complete and accurate data."),
    ("VD10", "Compliance Risk Mitigation", "risk", "Lower exposure to regulatory findings."),
    ("VD11", "Patient Safety Assurance", "risk", "Safety signals detected and handled sooner."),
    ("VD12", "Audit Readiness", "risk", "Evidence ready for audits and inspections."),
    (
        "VD13",
        "Time to Market Acceleration",
        "strategic_impact",
        "Products reach patients earlier.",
    ),
    (
        "VD14",
        "Revenue Growth Enablement",
        "strategic_impact",
        "New revenue from better access and engagement.",
    ),
    (
        "VD15",
        "Competitive Differentiation",
        "strategic_impact",
        "Capabilities competitors cannot easily copy.",
    ),
)


@dataclass(frozen=True)
class FunctionSpec:
    name: str
    departments: tuple[str, ...]
    objects: tuple[str, ...]
    pillars: tuple[str, ...]


PHARMA_FUNCTIONS = (
    FunctionSpec(
        "Medical Affairs",
        (
            "Medical Information",
            "Medical Science Liaison",
            "Medical Communications",
            "Medical Strategy",
            "Scientific Publications",
        ),
        (
            "unsolicited medical information requests",
            "standard response documents",
            "scientific advisory boards",
            "key opinion leader engagement plans",
            "medical education programmes",
            "congress scientific coverage",
            "publication plans",
            "field medical insights",
        ),
        ("SP01", "SP02", "SP03"),
    ),
    FunctionSpec(
        "Regulatory Affairs",
        (
            "Regulatory Strategy",
            "Regulatory Operations",
            "Labeling",
            "CMC Regulatory",
            "Regulatory Intelligence",
        ),
        (
            "marketing authorisation dossiers",
            "health authority queries",
            "product labeling updates",
            "variation submissions",
            "regulatory intelligence briefs",
            "eCTD submission sequences",
            "CMC change controls",
            "agency meeting packages",
        ),
        ("SP03", "SP04"),
    ),
    FunctionSpec(
        "Clinical Operations",
        (
            "Clinical Trial Operations",
            "Site Operations",
            "Clinical Data",
            "Biostatistics",
            "Clinical Supply",
        ),
        (
            "clinical study protocols",
            "site feasibility assessments",
            "patient recruitment plans",
            "trial master file documents",
            "clinical data cleaning cycles",
            "statistical analysis plans",
            "investigator payments",
            "clinical supply forecasts",
        ),
        ("SP01", "SP02", "SP04"),
    ),
    FunctionSpec(
        "Commercial",
        (
            "Brand Marketing",
            "Sales Operations",
            "Key Accounts",
            "Customer Engagement",
            "Commercial Analytics",
        ),
        (
            "brand plans",
            "promotional material approvals",
            "sales territory alignments",
            "key account plans",
            "omnichannel campaigns",
            "sales performance dashboards",
            "market research studies",
            "launch readiness plans",
        ),
        ("SP05", "SP06"),
    ),
    FunctionSpec(
        "Market Access",
        ("Pricing", "Reimbursement", "Payer Relations", "Value Evidence", "Patient Access"),
        (
            "pricing proposals",
            "health technology assessment submissions",
            "payer value dossiers",
            "reimbursement applications",
            "payer contract negotiations",
            "patient access programmes",
            "budget impact models",
            "formulary listings",
        ),
        ("SP05", "SP02"),
    ),
    FunctionSpec(
        "Pharmacovigilance",
        (
            "Case Processing",
            "Signal Detection",
            "Benefit-Risk",
            "PV Quality",
            "Aggregate Reporting",
        ),
        (
            "adverse event case reports",
            "safety signals",
            "periodic safety update reports",
            "risk management plans",
            "literature safety screenings",
            "safety data exchange agreements",
            "PV system master files",
            "risk minimisation measures",
        ),
        ("SP03", "SP02"),
    ),
    FunctionSpec(
        "R&D",
        (
            "Discovery Research",
            "Translational Science",
            "Preclinical Development",
            "Research Informatics",
            "Portfolio Strategy",
        ),
        (
            "target validation studies",
            "lead optimisation cycles",
            "biomarker strategies",
            "preclinical study reports",
            "laboratory data pipelines",
            "portfolio prioritisation reviews",
            "research collaboration agreements",
            "assay development plans",
        ),
        ("SP01", "SP06"),
    ),
    FunctionSpec(
        "Manufacturing",
        (
            "Production Planning",
            "Process Engineering",
            "Supply Chain",
            "Packaging Operations",
            "Technical Operations",
        ),
        (
            "batch production schedules",
            "process validation protocols",
            "supply and demand plans",
            "packaging artwork changes",
            "equipment maintenance plans",
            "technology transfers",
            "inventory reconciliations",
            "serialisation data",
        ),
        ("SP04", "SP03"),
    ),
    FunctionSpec(
        "Quality Assurance",
        (
            "Quality Systems",
            "GMP Compliance",
            "Quality Control",
            "Audit & Inspection",
            "Validation",
        ),
        (
            "deviation investigations",
            "CAPA plans",
            "batch record reviews",
            "supplier qualification audits",
            "inspection readiness plans",
            "standard operating procedures",
            "computer system validation packages",
            "quality management reviews",
        ),
        ("SP03", "SP04"),
    ),
    FunctionSpec(
        "HEOR",
        (
            "Health Economics",
            "Outcomes Research",
            "Real-World Evidence",
            "Epidemiology",
            "Economic Modelling",
        ),
        (
            "cost-effectiveness models",
            "real-world evidence studies",
            "patient-reported outcome strategies",
            "systematic literature reviews",
            "epidemiology estimates",
            "evidence gap analyses",
            "registry study protocols",
            "burden of illness analyses",
        ),
        ("SP05", "SP01"),
    ),
    FunctionSpec(
        "Digital & IT",
        (
            "Data Engineering",
            "Enterprise Applications",
            "Cybersecurity",
            "AI & Analytics",
            "IT Operations",
        ),
        (
            "data integration pipelines",
            "system access reviews",
            "AI model validations",
            "enterprise application releases",
            "cybersecurity risk assessments",
            "analytics dashboards",
            "IT service requests",
            "master data quality checks",
        ),
        ("SP06", "SP04"),
    ),
    FunctionSpec(
        "Legal & Compliance",
        (
            "Corporate Compliance",
            "Contracts",
            "Privacy",
            "Intellectual Property",
            "Transparency Reporting",
        ),
        (
            "healthcare professional engagement contracts",
            "compliance monitoring reviews",
            "data privacy impact assessments",
            "patent filings",
            "transparency disclosures",
            "compliance training curricula",
            "third-party due diligence reviews",
            "investigation reports",
        ),
        ("SP03", "SP07"),
    ),
)

DIGITAL_HEALTH_FUNCTIONS = (
    FunctionSpec(
        "Product & Engineering",
        ("Product Management", "Software Engineering"),
        (
            "product roadmaps",
            "feature releases",
            "user research studies",
            "app store submissions",
            "software defect triage",
            "platform reliability reviews",
            "sprint plans",
            "API integrations",
        ),
        ("SP06", "SP04"),
    ),
    FunctionSpec(
        "Clinical & Medical",
        ("Clinical Evidence", "Medical Safety"),
        (
            "clinical validation studies",
            "digital endpoint definitions",
            "clinical safety cases",
            "medical content reviews",
            "patient outcome analyses",
            "clinician feedback sessions",
            "evidence summaries",
            "usability studies",
        ),
        ("SP01", "SP02"),
    ),
    FunctionSpec(
        "Regulatory & Quality",
        ("Regulatory Affairs", "Quality Management"),
        (
            "medical device software classifications",
            "technical documentation files",
            "post-market surveillance reports",
            "quality management system audits",
            "cybersecurity documentation",
            "design history files",
            "change impact assessments",
            "data protection assessments",
        ),
        ("SP03", "SP04"),
    ),
    FunctionSpec(
        "Growth & Partnerships",
        ("Partnerships", "Customer Success"),
        (
            "payer partnership proposals",
            "pilot programme plans",
            "customer onboarding plans",
            "pricing experiments",
            "health system contracts",
            "customer health reviews",
            "marketing campaigns",
            "reimbursement pathway analyses",
        ),
        ("SP05", "SP07"),
    ),
)

LARGE_ROLE_TITLES = (
    ("{d} Associate", "associate"),
    ("{d} Coordinator", "associate"),
    ("{d} Specialist", "specialist"),
    ("{d} Analyst", "specialist"),
    ("Senior {d} Specialist", "specialist"),
    ("{d} Lead", "manager"),
    ("{d} Manager", "manager"),
    ("Senior {d} Manager", "senior_manager"),
    ("Associate Director, {d}", "senior_manager"),
    ("{d} Director", "director"),
    ("Senior Director, {d}", "director"),
    ("Head of {d}", "executive"),
    ("{d} Specialist (EMEA)", "specialist"),
    ("{d} Specialist (North America)", "specialist"),
    ("{d} Manager (EMEA)", "manager"),
    ("{d} Manager (APAC)", "manager"),
)

SMALL_ROLE_TITLES = (
    ("{d} Associate", "associate"),
    ("{d} Specialist", "specialist"),
    ("{d} Manager", "manager"),
    ("{d} Director", "director"),
    ("Head of {d}", "executive"),
)

PERSONA_SENIORITIES = ("specialist", "manager", "senior_manager", "director")
BOTTOM_UP_ROLE = "Medical Information Manager"

PERSONA_ADJECTIVES = {
    "AUTOMATOR": ("Efficiency-Driven", "Automation-First", "Process-Optimising"),
    "ORCHESTRATOR": ("Cross-Functional", "Coordinating", "Network-Building"),
    "LEARNER": ("Curious", "Upskilling", "Exploring"),
    "SKEPTIC": ("Cautious", "Evidence-Demanding", "Risk-Aware"),
}
# (ai maturity range, importance bias, satisfaction bias) per archetype; biases in hundredths.
ARCHETYPE_TRAITS = {
    "AUTOMATOR": ((7.0, 9.8), 30, -40),
    "ORCHESTRATOR": ((5.5, 8.0), 20, -20),
    "LEARNER": ((3.5, 6.5), 0, 0),
    "SKEPTIC": ((1.0, 4.0), -20, 50),
}

JOB_ACTIONS = (
    "Plan",
    "Prepare",
    "Review",
    "Track",
    "Analyse",
    "Coordinate",
    "Document",
    "Prioritise",
    "Quality-check",
    "Report on",
)
JOB_SITUATIONS = (
    "a new request arrives",
    "a deadline approaches",
    "new data becomes available",
    "a regulation changes",
    "portfolio priorities shift",
    "an audit is announced",
    "a product enters a new market",
    "the quarterly business review starts",
)
JOB_BENEFITS = (
    "decisions are made on time",
    "nothing falls through the cracks",
    "we stay compliant in every market",
    "patients and prescribers get the right answer faster",
    "effort goes where it matters most",
    "stakeholders trust the result",
)
OUTCOME_TEMPLATES = (
    "Minimise the time it takes to {job}",
    "Minimise the likelihood of errors when I {job}",
    "Minimise the rework needed after I {job}",
    "Increase confidence that the inputs are complete when I {job}",
    "Minimise the number of hand-offs needed to {job}",
)
OPPORTUNITY_TOOLS = (
    "GenAI drafting assistant",
    "AI copilot",
    "Automated triage",
    "Intelligent document processing",
    "Knowledge retrieval assistant",
    "Predictive analytics",
    "Agentic workflow",
)
STAGE_NAMES = (
    "Intake",
    "Triage",
    "Data gathering",
    "Analysis",
    "Drafting",
    "Expert review",
    "Quality check",
    "Approval",
    "Submission",
    "Distribution",
    "Archiving",
)
TASK_NAMES = (
    "Collect source documents",
    "Validate input data",
    "Search prior responses",
    "Draft summary",
    "Check against SOP",
    "Request sign-off",
    "Log decision",
    "Notify stakeholders",
    "Update tracker",
    "Run automated checks",
    "Reconcile records",
    "Translate content",
)
WORKFLOW_VARIANTS = (
    "standard process",
    "AI-assisted process",
    "expedited process",
    "global process",
    "regional process",
)
METRIC_STEMS = {
    "time": (("Cycle time", "hours"), ("Manual effort", "hours"), ("Turnaround time", "hours")),
    "cost": (("Cost per cycle", "usd"), ("External spend", "usd"), ("Cost to serve", "usd")),
    "quality": (
        ("First-pass yield", "percent"),
        ("Right-first-time rate", "percent"),
        ("Data accuracy", "percent"),
    ),
    "risk": (
        ("Compliance risk score", "score"),
        ("Error exposure score", "score"),
        ("Audit finding risk", "score"),
    ),
    "strategic_impact": (
        ("Strategic impact score", "score"),
        ("Time-to-market gain", "percent"),
        ("Stakeholder value score", "score"),
    ),
}

THERAPEUTIC_AREAS = {
    "ONC": (
        "Oncology",
        (
            ("Non-small cell lung cancer", "C34.90"),
            ("Breast cancer", "C50.919"),
            ("Colorectal cancer", "C18.9"),
            ("Multiple myeloma", "C90.00"),
            ("Melanoma", "C43.9"),
        ),
    ),
    "IMM": (
        "Immunology",
        (
            ("Rheumatoid arthritis", "M06.9"),
            ("Psoriasis", "L40.0"),
            ("Crohn's disease", "K50.90"),
            ("Ulcerative colitis", "K51.90"),
            ("Systemic lupus erythematosus", "M32.9"),
        ),
    ),
    "NEU": (
        "Neurology",
        (
            ("Multiple sclerosis", "G35"),
            ("Alzheimer's disease", "G30.9"),
            ("Parkinson's disease", "G20"),
            ("Migraine", "G43.909"),
            ("Epilepsy", "G40.909"),
        ),
    ),
    "CVD": (
        "Cardiovascular",
        (
            ("Heart failure", "I50.9"),
            ("Atrial fibrillation", "I48.91"),
            ("Hypertension", "I10"),
            ("Coronary artery disease", "I25.10"),
            ("Hypercholesterolaemia", "E78.00"),
        ),
    ),
    "RARE": (
        "Rare Diseases",
        (
            ("Cystic fibrosis", "E84.9"),
            ("Spinal muscular atrophy", "G12.9"),
            ("Haemophilia A", "D66"),
            ("Fabry disease", "E75.21"),
            ("Duchenne muscular dystrophy", "G71.01"),
        ),
    ),
    "INF": (
        "Infectious Diseases",
        (
            ("HIV infection", "B20"),
            ("Chronic hepatitis B", "B18.1"),
            ("RSV infection", "B97.4"),
            ("Influenza", "J11.1"),
            ("Invasive fungal infection", "B49"),
        ),
    ),
    "RESP": (
        "Respiratory",
        (
            ("Asthma", "J45.909"),
            ("COPD", "J44.9"),
            ("Idiopathic pulmonary fibrosis", "J84.112"),
            ("Bronchiectasis", "J47.9"),
            ("Pulmonary arterial hypertension", "I27.0"),
        ),
    ),
    "MET": (
        "Metabolic & Endocrine",
        (
            ("Type 2 diabetes", "E11.9"),
            ("Obesity", "E66.9"),
            ("Type 1 diabetes", "E10.9"),
            ("Non-alcoholic steatohepatitis", "K75.81"),
            ("Hypothyroidism", "E03.9"),
        ),
    ),
}
PRODUCT_PREFIXES = ("Onco", "Cardi", "Neur", "Immu", "Resp", "Glu", "Derm", "Hema", "Vira", "Lumi")
PRODUCT_SUFFIXES = ("vex", "tra", "lumab", "zumab", "tinib", "mycin", "pril", "stat", "vir", "dex")
LIFECYCLE_STAGES = ("preclinical", "phase_1", "phase_2", "phase_3", "launched", "mature")
EVIDENCE_TITLES = {
    "rct": "Randomised controlled trial of {product} in {disease}",
    "real_world": "Real-world effectiveness of {product} in {disease}",
    "meta_analysis": "Meta-analysis of treatment options for {disease}",
    "guideline": "Clinical practice guideline: {disease}",
    "label": "Prescribing information: {product}",
    "publication": "Case series: {product} in {disease}",
}

FIRST_NAMES = (
    "Aisha", "Ben", "Carla", "Daniel", "Elena", "Farid", "Grace", "Hiro", "Ines", "Jonas",
    "Kavya", "Liam", "Maya", "Noah", "Olga", "Pedro", "Quinn", "Rosa", "Sven", "Tara",
    "Umar", "Vera", "Wei", "Ximena", "Yusuf", "Zoe",
)  # fmt: skip
LAST_NAMES = (
    "Andersen", "Baker", "Chen", "Dubois", "Evans", "Fischer", "Garcia", "Hughes", "Ito",
    "Jensen", "Kowalski", "Lopez", "Martin", "Nakamura", "Okafor", "Patel", "Rossi", "Schmidt",
    "Tanaka", "Usman", "Varga", "Weber", "Young", "Zhang",
)  # fmt: skip
EXTRA_TENANT_NAMES = (
    "Northbridge Biopharma",
    "Meridian Therapeutics",
    "Aurelia Pharma",
    "Cobalt Life Sciences",
    "Helix Oncology",
    "Summit Biologics",
    "Lakeshore Pharmaceuticals",
    "Vantage Biosciences",
    "Orion Health Sciences",
    "Crescent Medicines",
)

COMPANY_PREFIXES = (
    "Nova",
    "Vita",
    "Medi",
    "Thera",
    "Gen",
    "Cura",
    "Bio",
    "Onco",
    "Neuro",
    "Cardio",
)
COMPANY_ROOTS = ("gen", "lux", "path", "core", "wave", "nex", "sync", "vance", "mind", "cell")
COMPANY_SUFFIXES = ("Therapeutics", "Health", "Labs", "Biosciences", "Diagnostics", "Medical")
EVALUATION_INDUSTRIES = (
    ("Pharmaceuticals", ("Specialty pharma", "Generics", "Consumer health")),
    ("Biotechnology", ("Cell and gene therapy", "Biologics", "Platform biotech")),
    ("Digital Health", ("Remote monitoring", "Digital therapeutics", "Telehealth")),
    ("Medical Devices", ("Diagnostics devices", "Surgical devices", "Wearables")),
    ("Healthcare Services", ("Contract research", "Specialty clinics", "Home care")),
)
REVENUE_BANDS = (
    ("<$1M", 200_000, 1_000_000, 5, 25),
    ("$1M-$10M", 1_000_000, 10_000_000, 20, 90),
    ("$10M-$50M", 10_000_000, 50_000_000, 80, 300),
    ("$50M-$250M", 50_000_000, 250_000_000, 250, 1_200),
    ("$250M-$1B", 250_000_000, 1_000_000_000, 1_000, 5_000),
    (">$1B", 1_000_000_000, 8_000_000_000, 4_000, 30_000),
)
HEADQUARTERS = (
    ("United States", "Boston"),
    ("United States", "San Diego"),
    ("United Kingdom", "Cambridge"),
    ("Germany", "Munich"),
    ("Switzerland", "Basel"),
    ("France", "Lyon"),
    ("Denmark", "Copenhagen"),
    ("Japan", "Osaka"),
    ("Singapore", "Singapore"),
    ("Canada", "Toronto"),
)
BUSINESS_GOALS = (
    "Expand into two new markets",
    "Reach profitability within 24 months",
    "Prepare for a Series C round",
    "Automate regulatory reporting",
    "Improve payer negotiations",
    "Launch a second product line",
    "Reduce customer churn",
    "Strengthen the evidence base",
)
BUSINESS_CHALLENGES = (
    "Long sales cycles with health systems",
    "Fragmented data across systems",
    "Hiring specialised talent",
    "Reimbursement uncertainty",
    "Rising compliance costs",
    "Pricing pressure from competitors",
    "Slow evidence generation",
)
OPPORTUNITY_TITLES = (
    ("Automate evidence synthesis", "operations"),
    ("Expand into adjacent indications", "growth"),
    ("Renegotiate supplier contracts", "cost"),
    ("Launch a patient support programme", "growth"),
    ("Consolidate data platforms", "operations"),
    ("Introduce value-based pricing", "revenue"),
    ("Build a KOL engagement programme", "growth"),
    ("Outsource non-core manufacturing", "cost"),
)
UPDATE_FIELDS = (
    "businessData.employees",
    "businessData.revenueBand",
    "businessData.goals",
    "businessData.challenges",
    "professionalData.financialMetrics.annualRevenue",
    "professionalData.financialMetrics.ebitda",
    "professionalData.customerAnalytics.churnRate",
    "professionalData.customerAnalytics.nps",
    "professionalData.marketPosition.marketShare",
    "professionalData.operationalMetrics.capacityUtilization",
)


# --------------------------------------------------------------------------------------
# Tenant profiles and expected volumes
# --------------------------------------------------------------------------------------


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


LARGE_TENANT = TenantProfile(
    kind="large",
    industries=("Pharmaceuticals", "Biotechnology", "Consumer Health"),
    functions=PHARMA_FUNCTIONS,
    role_titles=LARGE_ROLE_TITLES,
    personas=39,
    jobs=745,
    deleted_jobs=15,
    workflows=380,
    ai_opportunities=1_900,
    value_metrics=4_750,
    therapeutic_areas=("ONC", "IMM", "NEU", "CVD", "RARE", "INF", "RESP", "MET"),
    products=30,
    diseases=40,
    evidence=200,
    users=150,
    evaluations=10_000,
)
SMALL_TENANT = TenantProfile(
    kind="small",
    industries=("Digital Health",),
    functions=DIGITAL_HEALTH_FUNCTIONS,
    role_titles=SMALL_ROLE_TITLES,
    personas=4,
    jobs=30,
    deleted_jobs=1,
    workflows=20,
    ai_opportunities=100,
    value_metrics=250,
    therapeutic_areas=("NEU", "CVD", "MET"),
    products=6,
    diseases=8,
    evidence=30,
    users=20,
    evaluations=1_000,
)

# Averages of the per-row random counts, used for the expected volumes.
NON_PERSONA_ROLE_JOBS = 5.5  # 3-8 jobs per role without a persona
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


def expected_volumes(scale: int) -> dict[str, int]:
    """Approximate rows per table at ``scale`` (random counts vary by a few percent)."""
    large = _profile_volumes(LARGE_TENANT)
    small = _profile_volumes(SMALL_TENANT)
    volumes = {name: round(large[name] * scale + small[name]) for name in large}
    volumes["strategic_pillars"] = len(PILLARS)
    volumes["ref_value_drivers"] = len(VALUE_DRIVERS)
    return volumes


def expected_heatmap_pairs(scale: int) -> int:
    """Heatmap pairs at ``scale``: every published persona's role is linked to every job."""

    def pairs(profile: TenantProfile) -> int:
        published = profile.personas - (2 if profile.kind == "large" else 0)
        return published * (profile.jobs - profile.deleted_jobs)

    return pairs(LARGE_TENANT) * scale + pairs(SMALL_TENANT)


EXPECTED_VOLUMES = expected_volumes(1)


# --------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _hundredths(value: int) -> str:
    """A non-negative number of hundredths as a two-decimal string."""
    return f"{value // 100}.{value % 100:02d}"


def _clamp(value: int, low: int = 0, high: int = 1000) -> int:
    return low if value < low else high if value > high else value


def _spread(rng: random.Random, total: int, buckets: int) -> list[int]:
    """``total`` split over ``buckets`` as evenly as possible, the remainder placed at random."""
    base, extra = divmod(total, buckets)
    counts = [base] * buckets
    for index in rng.sample(range(buckets), extra):
        counts[index] += 1
    return counts


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def odi_opportunity(importance: int, satisfaction: int) -> tuple[int, str]:
    """ODI opportunity and its classification, scores in hundredths (0-1000 each).

    opportunity = importance + max(importance - satisfaction, 0); classified, in this order:
    >= 15 highly_underserved, >= 10 underserved, satisfaction > importance overserved, else
    appropriately_served.
    """
    opportunity = importance + max(importance - satisfaction, 0)
    if opportunity >= 1500:
        return opportunity, "highly_underserved"
    if opportunity >= 1000:
        return opportunity, "underserved"
    if satisfaction > importance:
        return opportunity, "overserved"
    return opportunity, "appropriately_served"


# --------------------------------------------------------------------------------------
# The generated world
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Tenant:
    index: int
    id: str
    name: str
    slug: str
    profile: TenantProfile


@dataclass(frozen=True)
class Named:
    """A generated entity with an id, a name, the index of its parent and a creation time."""

    id: str
    name: str
    parent: int
    created_at: dt.datetime


@dataclass(frozen=True)
class Role:
    id: str
    index: int
    function_index: int
    department_id: str
    name: str
    seniority: str
    headcount: int
    created_at: dt.datetime


@dataclass(frozen=True)
class Persona:
    id: str
    role: Role
    name: str
    archetype: str
    status: str
    ai_maturity: str
    work_complexity: str
    created_at: dt.datetime
    updated_at: dt.datetime


@dataclass(frozen=True)
class Job:
    id: str
    index: int
    code: str
    action: str
    object: str
    function_index: int
    statement: str
    complexity: str
    frequency: str
    status: str
    importance: int
    satisfaction: int
    pillars: tuple[tuple[int, str], ...]
    created_at: dt.datetime
    updated_at: dt.datetime
    deleted_at: dt.datetime | None

    @property
    def name(self) -> str:
        return f"{self.action} {self.object}"

    @property
    def phrase(self) -> str:
        return f"{self.action.lower()} {self.object}"


@dataclass(frozen=True)
class Stage:
    id: str
    number: int
    name: str
    hours: int


@dataclass(frozen=True)
class Workflow:
    id: str
    job: Job
    name: str
    status: str
    automation_level: str
    stages: tuple[Stage, ...]
    created_at: dt.datetime
    updated_at: dt.datetime
    deleted_at: dt.datetime | None


@dataclass(frozen=True)
class User:
    id: str
    role: Role | None
    persona: Persona | None


@dataclass(frozen=True)
class Evaluation:
    """The parts of an evaluation its audit trail needs; the payload is drawn separately."""

    id: str
    user_id: str
    tier: str
    status: str
    created_at: dt.datetime
    updated_at: dt.datetime
    deleted_at: dt.datetime | None


@dataclass(frozen=True)
class Domain:
    therapeutic_areas: tuple[tuple[str, str, str, dt.datetime], ...]
    products: tuple[tuple[str, int, str, str, dt.datetime], ...]
    diseases: tuple[tuple[str, int, str, str, dt.datetime], ...]


class DemoPlan:
    """Everything the generators share: seed, scale, the anchor time and the tenants."""

    def __init__(self, *, seed: int, scale: int, as_of: dt.date) -> None:
        self.seed = seed
        self.scale = scale
        self.as_of = as_of
        self.anchor = dt.datetime.combine(as_of, dt.time(), tzinfo=dt.timezone.utc)
        self.tenants = [
            Tenant(0, PHARMA_TENANT_ID, "Pharmaceuticals", "pharmaceuticals", LARGE_TENANT),
            Tenant(
                1,
                DIGITAL_HEALTH_TENANT_ID,
                "Digital Health Startups",
                "digital-health-startups",
                SMALL_TENANT,
            ),
        ]
        for index in range(2, scale + 1):
            base = EXTRA_TENANT_NAMES[(index - 2) % len(EXTRA_TENANT_NAMES)]
            round_ = (index - 2) // len(EXTRA_TENANT_NAMES)
            name = base if round_ == 0 else f"{base} {round_ + 1}"
            tenant_id = _uuid(self.rng(index, "tenant_id"))
            self.tenants.append(Tenant(index, tenant_id, name, _slug(name), LARGE_TENANT))

    def rng(self, *key: object) -> random.Random:
        return random.Random(":".join(str(part) for part in (self.seed, *key)))

    def ago(self, rng: random.Random, low_days: float, high_days: float) -> dt.datetime:
        """A whole-second time between ``high_days`` and ``low_days`` before the anchor."""
        seconds = rng.randint(int(low_days * 86400), int(high_days * 86400))
        return self.anchor - dt.timedelta(seconds=seconds)

    def between(self, rng: random.Random, start: dt.datetime, end: dt.datetime) -> dt.datetime:
        span = max(int((end - start).total_seconds()), 0)
        return start + dt.timedelta(seconds=rng.randint(0, span))

    @cached_property
    def pillars(self) -> list[str]:
        rng = self.rng("global", "pillars")
        return [_uuid(rng) for _ in PILLARS]

    @cached_property
    def drivers(self) -> list[str]:
        rng = self.rng("global", "value_drivers")
        return [_uuid(rng) for _ in VALUE_DRIVERS]

    def worlds(self) -> Iterator[TenantWorld]:
        for tenant in self.tenants:
            yield TenantWorld(self, tenant)


class TenantWorld:
    """One tenant's generated entities. Each part is drawn from its own random stream on first
    use, so a table needs only the parts it refers to."""

    def __init__(self, plan: DemoPlan, tenant: Tenant) -> None:
        self.plan = plan
        self.tenant = tenant
        self.profile = tenant.profile

    def rng(self, name: str) -> random.Random:
        return self.plan.rng(self.tenant.index, name)

    @cached_property
    def industries(self) -> list[Named]:
        rng = self.rng("industries")
        return [
            Named(_uuid(rng), name, 0, self.plan.ago(rng, 1000, 1100))
            for name in self.profile.industries
        ]

    @cached_property
    def functions(self) -> list[Named]:
        rng = self.rng("functions")
        count = len(self.industries)
        return [
            Named(_uuid(rng), spec.name, index % count, self.plan.ago(rng, 900, 1000))
            for index, spec in enumerate(self.profile.functions)
        ]

    @cached_property
    def departments(self) -> list[Named]:
        rng = self.rng("departments")
        return [
            Named(_uuid(rng), name, function_index, self.plan.ago(rng, 800, 900))
            for function_index, spec in enumerate(self.profile.functions)
            for name in spec.departments
        ]

    @cached_property
    def roles(self) -> list[Role]:
        rng = self.rng("roles")
        headcounts = {
            "associate": (2, 12),
            "specialist": (2, 10),
            "manager": (1, 5),
            "senior_manager": (1, 3),
            "director": (1, 2),
            "executive": (1, 1),
        }
        roles: list[Role] = []
        for department in self.departments:
            for title, seniority in self.profile.role_titles:
                roles.append(
                    Role(
                        id=_uuid(rng),
                        index=len(roles),
                        function_index=department.parent,
                        department_id=department.id,
                        name=title.format(d=department.name),
                        seniority=seniority,
                        headcount=rng.randint(*headcounts[seniority]),
                        created_at=self.plan.ago(rng, 700, 800),
                    )
                )
        return roles

    @cached_property
    def roles_by_function(self) -> list[list[Role]]:
        grouped: list[list[Role]] = [[] for _ in self.profile.functions]
        for role in self.roles:
            grouped[role.function_index].append(role)
        return grouped

    @cached_property
    def personas(self) -> list[Persona]:
        rng = self.rng("personas")
        count = self.profile.personas
        chosen: list[Role] = []
        per_function = _spread(rng, count, len(self.profile.functions))
        for function_index, wanted in enumerate(per_function):
            candidates = [
                role
                for role in self.roles_by_function[function_index]
                if role.seniority in PERSONA_SENIORITIES
            ]
            chosen.extend(rng.sample(candidates, wanted))
        anchor_role = next((role for role in self.roles if role.name == BOTTOM_UP_ROLE), None)
        if anchor_role is not None and anchor_role not in chosen:
            first_of_function = next(
                index
                for index, role in enumerate(chosen)
                if role.function_index == anchor_role.function_index
            )
            chosen[first_of_function] = anchor_role
        archetypes = [ARCHETYPES[index % len(ARCHETYPES)] for index in range(count)]
        rng.shuffle(archetypes)
        statuses = ["published"] * count
        if self.profile.kind == "large":
            eligible = [index for index, role in enumerate(chosen) if role is not anchor_role]
            draft, in_review = rng.sample(eligible, 2)
            statuses[draft] = "draft"
            statuses[in_review] = "in_review"
        personas = []
        for role, archetype, status in zip(chosen, archetypes, statuses, strict=True):
            maturity_range = ARCHETYPE_TRAITS[archetype][0]
            created = self.plan.ago(rng, 200, 600)
            personas.append(
                Persona(
                    id=_uuid(rng),
                    role=role,
                    name=f"{rng.choice(PERSONA_ADJECTIVES[archetype])} {role.name}",
                    archetype=archetype,
                    status=status,
                    ai_maturity=f"{rng.uniform(*maturity_range):.2f}",
                    work_complexity=f"{rng.uniform(3.0, 9.5):.2f}",
                    created_at=created,
                    updated_at=self.plan.between(rng, created, self.plan.anchor),
                )
            )
        return personas

    @cached_property
    def jobs(self) -> list[Job]:
        rng = self.rng("jobs")
        plan = self.plan
        drafts: list[tuple[int, str, str]] = []
        per_function = _spread(rng, self.profile.jobs, len(self.profile.functions))
        for function_index, (spec, wanted) in enumerate(
            zip(self.profile.functions, per_function, strict=True)
        ):
            combos = [(action, obj) for obj in spec.objects for action in JOB_ACTIONS]
            drafts.extend((function_index, *combo) for combo in rng.sample(combos, wanted))
        rng.shuffle(drafts)
        deleted = set(rng.sample(range(len(drafts)), self.profile.deleted_jobs))
        pillar_index = {code: index for index, (code, *_rest) in enumerate(PILLARS)}
        jobs = []
        for index, (function_index, action, obj) in enumerate(drafts):
            spec = self.profile.functions[function_index]
            profile = rng.choices(("high", "under", "fair", "over"), weights=(22, 30, 28, 20))[0]
            if profile == "high":
                importance = rng.uniform(8.6, 9.8)
                satisfaction = rng.uniform(0.8, 2.8)
            elif profile == "under":
                importance = rng.uniform(6.8, 8.6)
                satisfaction = rng.uniform(2.5, 4.5)
            elif profile == "fair":
                importance = rng.uniform(4.0, 7.0)
                satisfaction = importance - rng.uniform(0.0, 1.5)
            else:
                importance = rng.uniform(2.5, 6.0)
                satisfaction = min(9.8, importance + rng.uniform(1.0, 3.5))
            pillars = [pillar_index[rng.choice(spec.pillars)]]
            for _ in range(rng.choices((0, 1, 2), weights=(35, 45, 20))[0]):
                extra = rng.randrange(len(PILLARS))
                if extra not in pillars:
                    pillars.append(extra)
            if self.tenant.index == 0 and index < len(PILLARS) and index not in pillars:
                # The first tenant's first seven jobs carry SP01..SP07, so every pillar is used.
                if len(pillars) == 3:
                    pillars[-1] = index
                else:
                    pillars.append(index)
            weights = tuple(
                (pillar, f"{rng.uniform(0.8, 1.0) if rank == 0 else rng.uniform(0.3, 0.8):.2f}")
                for rank, pillar in enumerate(pillars)
            )
            created = plan.ago(rng, 30, 730)
            updated = plan.between(rng, created, plan.anchor)
            jobs.append(
                Job(
                    id=_uuid(rng),
                    index=index,
                    code=f"JTBD-{index + 1:04d}",
                    action=action,
                    object=obj,
                    function_index=function_index,
                    statement=(
                        f"When {rng.choice(JOB_SITUATIONS)}, I want to {action.lower()} {obj}, "
                        f"so that {rng.choice(JOB_BENEFITS)}."
                    ),
                    complexity=rng.choices(COMPLEXITIES, weights=(25, 35, 28, 12))[0],
                    frequency=rng.choices(FREQUENCIES, weights=(20, 30, 25, 15, 10))[0],
                    status=rng.choices(("active", "draft", "retired"), weights=(86, 9, 5))[0],
                    importance=round(importance * 100),
                    satisfaction=round(satisfaction * 100),
                    pillars=weights,
                    created_at=created,
                    updated_at=updated,
                    deleted_at=plan.between(rng, updated, plan.anchor)
                    if index in deleted
                    else None,
                )
            )
        return jobs

    @cached_property
    def jobs_by_function(self) -> list[list[Job]]:
        grouped: list[list[Job]] = [[] for _ in self.profile.functions]
        for job in self.jobs:
            grouped[job.function_index].append(job)
        return grouped

    @cached_property
    def workflows(self) -> list[Workflow]:
        rng = self.rng("workflows")
        plan = self.plan
        jobs = self.jobs
        wanted = self.profile.workflows
        picks = rng.sample(jobs, min(wanted, len(jobs)))
        picks += [rng.choice(jobs) for _ in range(wanted - len(picks))]
        deleted = set(rng.sample(range(wanted), round(wanted * 0.02)))
        workflows = []
        for index, job in enumerate(picks):
            names = sorted(rng.sample(range(len(STAGE_NAMES)), rng.randint(3, 6)))
            stages = tuple(
                Stage(_uuid(rng), number, STAGE_NAMES[name], rng.randint(50, 4000))
                for number, name in enumerate(names, start=1)
            )
            created = plan.between(rng, job.created_at, plan.anchor)
            updated = plan.between(rng, created, plan.anchor)
            workflows.append(
                Workflow(
                    id=_uuid(rng),
                    job=job,
                    name=f"{job.name}: {rng.choice(WORKFLOW_VARIANTS)}",
                    status=rng.choices(("active", "draft", "deprecated"), weights=(70, 20, 10))[0],
                    automation_level=rng.choices(
                        ("manual", "assisted", "semi_automated", "automated"),
                        weights=(20, 35, 30, 15),
                    )[0],
                    stages=stages,
                    created_at=created,
                    updated_at=updated,
                    deleted_at=plan.between(rng, updated, plan.anchor)
                    if index in deleted
                    else None,
                )
            )
        return workflows

    @cached_property
    def users(self) -> list[User]:
        rng = self.rng("users")
        users = []
        for _ in range(self.profile.users):
            persona = rng.choice(self.personas) if rng.random() < 0.35 else None
            if persona is not None:
                role: Role | None = persona.role
            else:
                role = rng.choice(self.roles) if rng.random() < 0.9 else None
            users.append(User(_uuid(rng), role, persona))
        return users

    @cached_property
    def domain(self) -> Domain:
        rng = self.rng("domain")
        plan = self.plan
        areas = tuple(
            (_uuid(rng), code, THERAPEUTIC_AREAS[code][0], plan.ago(rng, 900, 1100))
            for code in self.profile.therapeutic_areas
        )
        products = []
        names: set[str] = set()
        for index in range(self.profile.products):
            name = f"{rng.choice(PRODUCT_PREFIXES)}{rng.choice(PRODUCT_SUFFIXES)}"
            while name in names:
                name = f"{rng.choice(PRODUCT_PREFIXES)}{rng.choice(PRODUCT_SUFFIXES)}"
            names.add(name)
            stage = rng.choices(LIFECYCLE_STAGES, weights=(10, 10, 15, 20, 30, 15))[0]
            created = plan.ago(rng, 300, 900)
            products.append((_uuid(rng), index % len(areas), name, stage, created))
        diseases = []
        per_area = _spread(rng, self.profile.diseases, len(areas))
        for area_index, (wanted, area) in enumerate(zip(per_area, areas, strict=True)):
            for disease_name, icd10 in THERAPEUTIC_AREAS[area[1]][1][:wanted]:
                diseases.append(
                    (_uuid(rng), area_index, disease_name, icd10, plan.ago(rng, 300, 900))
                )
        return Domain(areas, tuple(products), tuple(diseases))

    def evaluations(self) -> Iterator[Evaluation]:
        """The evaluations' keys and times, drawn the same way for the table and its audit."""
        rng = self.rng("evaluations")
        anchor = self.plan.anchor
        user_ids = [user.id for user in self.users]
        week = 7 * 86400
        three_years = 3 * 365 * 86400
        timedelta = dt.timedelta
        choices = rng.choices
        for _ in range(self.profile.evaluations):
            evaluation_id = _uuid(rng)
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


# --------------------------------------------------------------------------------------
# Row generators, one per table
# --------------------------------------------------------------------------------------

Row = Sequence[Any]


def _tenant_rows(plan: DemoPlan) -> Iterator[Row]:
    for tenant in plan.tenants:
        rng = plan.rng(tenant.index, "tenant")
        yield (tenant.id, tenant.name, tenant.slug, plan.ago(rng, 1100, 1400))


def _industry_rows(plan: DemoPlan) -> Iterator[Row]:
    for world in plan.worlds():
        for industry in world.industries:
            yield (industry.id, world.tenant.id, industry.name, industry.created_at)


def _therapeutic_area_rows(plan: DemoPlan) -> Iterator[Row]:
    for world in plan.worlds():
        for area_id, code, name, created in world.domain.therapeutic_areas:
            yield (area_id, world.tenant.id, code, name, created)


def _product_rows(plan: DemoPlan) -> Iterator[Row]:
    for world in plan.worlds():
        areas = world.domain.therapeutic_areas
        for product_id, area, name, stage, created in world.domain.products:
            yield (product_id, world.tenant.id, areas[area][0], name, stage, created)


def _disease_rows(plan: DemoPlan) -> Iterator[Row]:
    for world in plan.worlds():
        areas = world.domain.therapeutic_areas
        for disease_id, area, name, icd10, created in world.domain.diseases:
            yield (disease_id, world.tenant.id, areas[area][0], name, icd10, created)


def _evidence_rows(plan: DemoPlan) -> Iterator[Row]:
    for world in plan.worlds():
        rng = world.rng("evidence")
        domain = world.domain
        for _ in range(world.profile.evidence):
            area = rng.randrange(len(domain.therapeutic_areas))
            products = [product for product in domain.products if product[1] == area]
            diseases = [disease for disease in domain.diseases if disease[1] == area]
            kind = rng.choices(tuple(EVIDENCE_TITLES), weights=(20, 25, 10, 10, 10, 25))[0]
            product = rng.choice(products) if kind != "guideline" and products else None
            disease = rng.choice(diseases) if kind != "label" and diseases else None
            title = EVIDENCE_TITLES[kind].format(
                product=product[2] if product else "standard of care",
                disease=disease[2] if disease else "approved indications",
            )
            published = plan.as_of - dt.timedelta(days=rng.randint(30, 3650))
            yield (
                _uuid(rng),
                world.tenant.id,
                product[0] if product else None,
                disease[0] if disease else None,
                kind,
                title,
                rng.choices("ABCD", weights=(30, 35, 25, 10))[0],
                published,
                dt.datetime.combine(published, dt.time(), tzinfo=dt.timezone.utc)
                + dt.timedelta(days=rng.randint(1, 20)),
            )


def _pillar_rows(plan: DemoPlan) -> Iterator[Row]:
    created = plan.anchor - dt.timedelta(days=1200)
    for pillar_id, (code, name, description, okr, theme) in zip(plan.pillars, PILLARS, strict=True):
        yield (pillar_id, code, name, description, okr, theme, created)


def _function_rows(plan: DemoPlan) -> Iterator[Row]:
    for world in plan.worlds():
        for function in world.functions:
            industry = world.industries[function.parent].id
            yield (function.id, world.tenant.id, industry, function.name, function.created_at)


def _department_rows(plan: DemoPlan) -> Iterator[Row]:
    for world in plan.worlds():
        for department in world.departments:
            function = world.functions[department.parent].id
            yield (department.id, world.tenant.id, function, department.name, department.created_at)


def _role_rows(plan: DemoPlan) -> Iterator[Row]:
    for world in plan.worlds():
        for role in world.roles:
            yield (
                role.id,
                world.tenant.id,
                role.department_id,
                role.name,
                role.seniority,
                role.headcount,
                role.created_at,
            )


def _persona_rows(plan: DemoPlan) -> Iterator[Row]:
    for world in plan.worlds():
        for persona in world.personas:
            yield (
                persona.id,
                world.tenant.id,
                persona.role.id,
                persona.name,
                persona.archetype,
                persona.status,
                persona.ai_maturity,
                persona.work_complexity,
                persona.created_at,
                persona.updated_at,
            )


def _job_rows(plan: DemoPlan) -> Iterator[Row]:
    for world in plan.worlds():
        for job in world.jobs:
            yield (
                job.id,
                world.tenant.id,
                job.code,
                job.name,
                job.statement,
                job.complexity,
                job.frequency,
                job.status,
                job.created_at,
                job.updated_at,
                job.deleted_at,
            )


def _job_role_rows(plan: DemoPlan) -> Iterator[Row]:
    for world in plan.worlds():
        rng = world.rng("jtbd_roles")
        rand = rng.random
        tenant_id = world.tenant.id
        jobs = world.jobs
        persona_roles = {persona.role.index for persona in world.personas}
        for role in world.roles:
            if role.index in persona_roles:
                for job in jobs:
                    own = job.function_index == role.function_index
                    share = _hundredths(rng.randint(50, 250)) if own else None
                    created = max(job.created_at, role.created_at)
                    yield (
                        _uuid(rng),
                        tenant_id,
                        job.id,
                        role.id,
                        own and rand() < 0.25,
                        share,
                        created,
                    )
                continue
            own_jobs = world.jobs_by_function[role.function_index]
            wanted = min(rng.randint(3, 8), len(jobs))
            picked: list[Job] = []
            seen: set[int] = set()
            while len(picked) < wanted:
                job = rng.choice(own_jobs) if rand() < 0.8 else rng.choice(jobs)
                if job.index not in seen:
                    seen.add(job.index)
                    picked.append(job)
            weights = [rng.uniform(1.0, 5.0) for _ in picked]
            total = sum(weights) / rng.uniform(60.0, 95.0)
            for rank, (job, weight) in enumerate(zip(picked, weights, strict=True)):
                created = max(job.created_at, role.created_at)
                share = _hundredths(int(weight / total * 100))
                yield (_uuid(rng), tenant_id, job.id, role.id, rank == 0, share, created)


def _pillar_mapping_rows(plan: DemoPlan) -> Iterator[Row]:
    for world in plan.worlds():
        rng = world.rng("jtbd_category_mappings")
        for job in world.jobs:
            for pillar, weight in job.pillars:
                yield (_uuid(rng), job.id, plan.pillars[pillar], weight, job.created_at)


def _outcome_rows(plan: DemoPlan) -> Iterator[Row]:
    for world in plan.worlds():
        rng = world.rng("jtbd_outcomes")
        for job in world.jobs:
            for template in rng.sample(OUTCOME_TEMPLATES, rng.randint(2, 4)):
                importance = _clamp(job.importance + int(rng.gauss(0, 80)))
                satisfaction = _clamp(job.satisfaction + int(rng.gauss(0, 80)))
                opportunity, _ = odi_opportunity(importance, satisfaction)
                yield (
                    _uuid(rng),
                    job.id,
                    template.format(job=job.phrase),
                    _hundredths(importance),
                    _hundredths(satisfaction),
                    _hundredths(opportunity),
                    job.created_at,
                )


def _odi_score_rows(plan: DemoPlan) -> Iterator[Row]:
    anchor = plan.anchor
    timedelta = dt.timedelta
    for world in plan.worlds():
        rng = world.rng("jtbd_odi_scores")
        gauss = rng.gauss
        randint = rng.randint
        tenant_id = world.tenant.id
        jobs = world.jobs
        for persona in world.personas:
            _, importance_bias, satisfaction_bias = ARCHETYPE_TRAITS[persona.archetype]
            function_index = persona.role.function_index
            for job in jobs:
                own_bonus = 60 if job.function_index == function_index else 0
                importance = _clamp(
                    job.importance + importance_bias + own_bonus + int(gauss(0, 60))
                )
                satisfaction = _clamp(job.satisfaction + satisfaction_bias + int(gauss(0, 60)))
                opportunity, classification = odi_opportunity(importance, satisfaction)
                yield (
                    _uuid(rng),
                    tenant_id,
                    job.id,
                    persona.id,
                    _hundredths(importance),
                    _hundredths(satisfaction),
                    _hundredths(opportunity),
                    classification,
                    randint(3, 60),
                    anchor - timedelta(seconds=randint(86400, 180 * 86400)),
                )


LAYER_WEIGHTS = {
    "low": (60, 20, 5, 15),
    "medium": (35, 35, 10, 20),
    "high": (15, 35, 20, 30),
    "very_high": (5, 20, 40, 35),
}
FREQUENCY_SUITABILITY = {"daily": 75, "weekly": 65, "monthly": 55, "quarterly": 45, "annually": 35}


def _suitability_rows(plan: DemoPlan) -> Iterator[Row]:
    for world in plan.worlds():
        rng = world.rng("jtbd_ai_suitability")
        for job in world.jobs:
            overall = _clamp(FREQUENCY_SUITABILITY[job.frequency] + int(rng.gauss(0, 15)), 5, 98)
            layer = rng.choices(SERVICE_LAYERS, weights=LAYER_WEIGHTS[job.complexity])[0]
            yield (
                _uuid(rng),
                job.id,
                _hundredths(overall),
                _hundredths(rng.randint(20, 95)),
                _hundredths(rng.randint(5, 80)),
                layer,
                plan.ago(rng, 1, 120),
            )


def _driver_rows(plan: DemoPlan) -> Iterator[Row]:
    for driver_id, (code, name, category, description) in zip(
        plan.drivers, VALUE_DRIVERS, strict=True
    ):
        yield (driver_id, code, name, category, description)


FREQUENCY_HOURS = {
    "daily": (200, 2000),
    "weekly": (80, 800),
    "monthly": (20, 300),
    "quarterly": (8, 120),
    "annually": (2, 60),
}
OPPORTUNITY_STATUSES = (
    "identified",
    "evaluating",
    "approved",
    "in_progress",
    "delivered",
    "rejected",
)


def _ai_opportunity_rows(plan: DemoPlan) -> Iterator[Row]:
    for world in plan.worlds():
        rng = world.rng("ai_opportunities")
        jobs = world.jobs
        counts = _spread(rng, world.profile.ai_opportunities, len(jobs))
        for job, count in zip(jobs, counts, strict=True):
            for tool in rng.sample(OPPORTUNITY_TOOLS, count):
                hours = rng.uniform(*FREQUENCY_HOURS[job.frequency])
                created = plan.ago(rng, 5, 400)
                yield (
                    _uuid(rng),
                    world.tenant.id,
                    job.id,
                    f"{tool} to {job.phrase}",
                    _hundredths(rng.randint(10, 95)),
                    rng.choices(OPPORTUNITY_STATUSES, weights=(25, 20, 15, 15, 15, 10))[0],
                    rng.choices(("low", "medium", "high", "critical"), weights=(20, 40, 30, 10))[0],
                    f"{hours:.1f}",
                    f"{hours * rng.uniform(85.0, 180.0):.2f}",
                    created,
                    plan.between(rng, created, plan.anchor),
                )


def _ref_opportunity_rows(plan: DemoPlan) -> Iterator[Row]:
    for world in plan.worlds():
        rng = world.rng("ref_opportunities")
        jobs = world.jobs
        wanted = round(len(jobs) * REF_OPPORTUNITY_SHARE)
        for index in sorted(rng.sample(range(len(jobs)), wanted)):
            job = jobs[index]
            driver = rng.randrange(len(VALUE_DRIVERS))
            yield (
                _uuid(rng),
                world.tenant.id,
                job.id,
                plan.drivers[driver],
                f"{VALUE_DRIVERS[driver][1]}: {job.name}",
                1,
                plan.between(rng, job.created_at, plan.anchor),
            )


def _workflow_rows(plan: DemoPlan) -> Iterator[Row]:
    for world in plan.worlds():
        for workflow in world.workflows:
            yield (
                workflow.id,
                world.tenant.id,
                workflow.job.id,
                workflow.name,
                workflow.status,
                _hundredths(sum(stage.hours for stage in workflow.stages)),
                workflow.automation_level,
                workflow.created_at,
                workflow.updated_at,
                workflow.deleted_at,
            )


def _stage_rows(plan: DemoPlan) -> Iterator[Row]:
    for world in plan.worlds():
        for workflow in world.workflows:
            for stage in workflow.stages:
                yield (
                    stage.id,
                    workflow.id,
                    stage.number,
                    stage.name,
                    _hundredths(stage.hours),
                    workflow.created_at,
                )


AUTOMATABLE_SHARE = {"manual": 0.1, "assisted": 0.3, "semi_automated": 0.55, "automated": 0.85}


def _task_rows(plan: DemoPlan) -> Iterator[Row]:
    for world in plan.worlds():
        rng = world.rng("workflow_tasks")
        for workflow in world.workflows:
            roles = world.roles_by_function[workflow.job.function_index]
            share = AUTOMATABLE_SHARE[workflow.automation_level]
            for stage in workflow.stages:
                for number, name in enumerate(rng.sample(TASK_NAMES, rng.randint(2, 5)), start=1):
                    role = rng.choice(roles) if rng.random() < 0.85 else None
                    yield (
                        _uuid(rng),
                        stage.id,
                        number,
                        name,
                        role.id if role else None,
                        rng.randint(10, 480),
                        rng.random() < share,
                        workflow.created_at,
                    )


def _metric_values(rng: random.Random, category: str, unit: str) -> tuple[float, float, float]:
    if category == "time":
        baseline = rng.uniform(4, 400)
        target = baseline * rng.uniform(0.4, 0.85)
    elif category == "cost":
        baseline = rng.uniform(5_000, 2_000_000)
        target = baseline * rng.uniform(0.6, 0.9)
    elif unit == "percent":
        baseline = rng.uniform(60, 92)
        target = min(99.9, baseline + rng.uniform(2, 12))
    elif category == "risk":
        baseline = rng.uniform(30, 90)
        target = baseline * rng.uniform(0.5, 0.85)
    else:
        baseline = rng.uniform(10, 60)
        target = baseline + rng.uniform(5, 30)
    actual = baseline + (target - baseline) * rng.uniform(0.2, 1.2)
    return baseline, target, actual


def _value_metric_rows(plan: DemoPlan) -> Iterator[Row]:
    for world in plan.worlds():
        rng = world.rng("value_metrics")
        jobs = world.jobs
        workflows = world.workflows
        for _ in range(world.profile.value_metrics):
            if rng.random() < 0.6:
                workflow = rng.choice(workflows)
                job = workflow.job
                workflow_id: str | None = workflow.id
            else:
                job = rng.choice(jobs)
                workflow_id = None
            driver = rng.randrange(len(VALUE_DRIVERS))
            category = VALUE_DRIVERS[driver][2]
            stem, unit = rng.choice(METRIC_STEMS[category])
            baseline, target, actual = _metric_values(rng, category, unit)
            measured = plan.ago(rng, 0, 365)
            yield (
                _uuid(rng),
                world.tenant.id,
                job.id,
                workflow_id,
                plan.drivers[driver],
                f"{stem} - {job.code}",
                category,
                unit,
                f"{baseline:.2f}",
                f"{target:.2f}",
                f"{actual:.2f}" if rng.random() < 0.75 else None,
                measured,
                measured - dt.timedelta(days=rng.randint(0, 60)),
            )


def _user_rows(plan: DemoPlan) -> Iterator[Row]:
    for world in plan.worlds():
        rng = world.rng("user_rows")
        for number, user in enumerate(world.users, start=1):
            first = rng.choice(FIRST_NAMES)
            last = rng.choice(LAST_NAMES)
            email = f"{first}.{last}.{number:04d}@{world.tenant.slug}.example.com".lower()
            created = plan.ago(rng, 30, 900)
            yield (
                user.id,
                world.tenant.id,
                email,
                f"{first} {last}",
                user.role.id if user.role else None,
                user.persona.id if user.persona else None,
                created,
                plan.ago(rng, 0, 30) if rng.random() < 0.85 else None,
            )


def _saved_filters(rng: random.Random, world: TenantWorld, user: User) -> dict[str, Any]:
    filters: dict[str, Any] = {"tenant_id": world.tenant.id}
    if user.role is not None and rng.random() < 0.5:
        function = world.functions[user.role.function_index]
        filters["industry_id"] = world.industries[function.parent].id
        filters["function_id"] = function.id
        if rng.random() < 0.5:
            filters["department_id"] = user.role.department_id
    if user.persona is not None and rng.random() < 0.3:
        filters["persona_id"] = user.persona.id
    if rng.random() < 0.6:
        filters["archetype"] = (
            user.persona.archetype if user.persona is not None else rng.choice(ARCHETYPES)
        )
    filters["complexity"] = sorted(rng.sample(COMPLEXITIES, rng.randint(1, 3)))
    if rng.random() < 0.5:
        filters["frequency"] = sorted(rng.sample(FREQUENCIES, rng.randint(1, 3)))
    filters["min_opportunity_score"] = rng.choice((5, 8, 10, 12, 15))
    filters["strategic_pillars"] = sorted(
        rng.sample([code for code, *_rest in PILLARS], rng.randint(1, 3))
    )
    if rng.random() < 0.4:
        filters["service_layers"] = sorted(rng.sample(SERVICE_LAYERS, rng.randint(1, 2)))
    return filters


def _preference_rows(plan: DemoPlan) -> Iterator[Row]:
    views = ("heatmap", "persona", "workflow", "strategic", "value")
    for world in plan.worlds():
        rng = world.rng("user_preferences")
        for user in world.users:
            yield (
                _uuid(rng),
                user.id,
                json.dumps(_saved_filters(rng, world, user), separators=(",", ":")),
                rng.choices(views, weights=(40, 20, 15, 10, 15))[0],
                plan.ago(rng, 0, 120),
            )


def _business_data(rng: random.Random) -> tuple[dict[str, Any], tuple]:
    industry, subsectors = rng.choice(EVALUATION_INDUSTRIES)
    band = rng.choices(REVENUE_BANDS, weights=(10, 25, 25, 20, 12, 8))[0]
    country, city = rng.choice(HEADQUARTERS)
    name = (
        f"{rng.choice(COMPANY_PREFIXES)}{rng.choice(COMPANY_ROOTS)} {rng.choice(COMPANY_SUFFIXES)}"
    )
    subsector = rng.choice(subsectors)
    employees = rng.randint(band[3], band[4])
    data = {
        "companyName": name,
        "industry": industry,
        "subIndustry": subsector,
        "businessModel": rng.choice(("B2B", "B2C", "B2B2C", "Licensing", "Services")),
        "employees": employees,
        "revenueBand": band[0],
        "foundedYear": rng.randint(1965, 2022),
        "headquarters": {"country": country, "city": city},
        "ownership": rng.choice(("private", "venture-backed", "public", "private-equity")),
        "markets": sorted(rng.sample([place[0] for place in HEADQUARTERS], rng.randint(1, 4))),
        "description": (
            f"{name} is a {subsector.lower()} company in {city} with {employees:,} employees, "
            f"serving {rng.choice(('hospitals', 'payers', 'patients', 'pharma partners'))} "
            f"across {rng.randint(1, 40)} countries."
        ),
        "goals": rng.sample(BUSINESS_GOALS, rng.randint(2, 3)),
        "challenges": rng.sample(BUSINESS_CHALLENGES, rng.randint(2, 3)),
        "fiscalYearEnd": rng.choice(("03-31", "06-30", "12-31")),
        "currency": "USD",
    }
    return data, band


def _professional_data(rng: random.Random, band: tuple, as_of: dt.date) -> dict[str, Any]:
    uniform = rng.uniform
    revenue = int(uniform(band[1], band[2]))
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
            "topSegments": rng.sample(
                ["hospitals", "clinics", "payers", "pharma", "patients", "pharmacies"], 2
            ),
        },
        "marketPosition": {
            "marketShare": round(uniform(0.001, 0.35), 4),
            "marketSize": int(revenue * uniform(5, 200)),
            "marketGrowthRate": round(uniform(0.0, 0.25), 4),
            "competitorCount": rng.randint(3, 60),
            "positioning": rng.choice(("leader", "challenger", "niche", "follower")),
            "keyCompetitors": [
                f"{rng.choice(COMPANY_PREFIXES)}{rng.choice(COMPANY_ROOTS)}" for _ in range(3)
            ],
            "differentiators": rng.sample(
                ["clinical evidence", "price", "service", "technology", "brand", "access"], 2
            ),
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
            "regulatoryRisk": rng.choice(("low", "medium", "high")),
            "concentrationRisk": rng.choice(("low", "medium", "high")),
            "keyPersonRisk": rng.choice(("low", "medium", "high")),
            "overallRiskScore": rng.randint(5, 95),
        },
        "benchmarks": {
            "peerGroup": rng.choice(("small cap", "mid cap", "large cap", "private peers")),
            "revenueGrowthPercentile": rng.randint(1, 99),
            "marginPercentile": rng.randint(1, 99),
        },
    }


def _valuations(rng: random.Random, band: tuple) -> dict[str, Any]:
    revenue = rng.uniform(band[1], band[2])
    multiple = rng.uniform(1.5, 9.0)
    mid = int(revenue * multiple)
    return {
        "method": rng.choice(("dcf", "comparables", "precedent_transactions", "blended")),
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


def _opportunities(rng: random.Random) -> list[dict[str, Any]]:
    return [
        {
            "title": title,
            "category": category,
            "impact": rng.choice(("low", "medium", "high")),
            "effort": rng.choice(("low", "medium", "high")),
            "estimatedValue": rng.randint(10, 5_000) * 1_000,
            "timeframeMonths": rng.choice((3, 6, 9, 12, 18, 24)),
        }
        for title, category in rng.sample(OPPORTUNITY_TITLES, rng.randint(2, 4))
    ]


ANALYSIS_DEPTHS = {
    "basic": (85, 15, 0),
    "professional": (15, 70, 15),
    "enterprise": (0, 30, 70),
}


def _evaluation_rows(plan: DemoPlan) -> Iterator[Row]:
    dumps = json.JSONEncoder(separators=(",", ":")).encode
    for world in plan.worlds():
        rng = world.rng("evaluation_payloads")
        tenant_id = world.tenant.id
        for evaluation in world.evaluations():
            business, band = _business_data(rng)
            professional = None
            if evaluation.tier != "basic":
                professional = dumps(_professional_data(rng, band, plan.as_of))
            finished = evaluation.status in ("completed", "archived")
            health = confidence = None
            if finished:
                health = _hundredths(rng.randint(1500, 9800))
                confidence = _hundredths(rng.randint(4000, 9900))
            elif evaluation.status == "failed":
                confidence = _hundredths(rng.randint(0, 3000))
            depth = rng.choices(
                ("standard", "comprehensive", "deep"), weights=ANALYSIS_DEPTHS[evaluation.tier]
            )[0]
            yield (
                evaluation.id,
                tenant_id,
                evaluation.user_id,
                evaluation.tier,
                dumps(business),
                professional,
                dumps(_valuations(rng, band)) if finished else None,
                dumps(_opportunities(rng)) if finished else None,
                health,
                confidence,
                evaluation.status,
                depth,
                1 if evaluation.updated_at == evaluation.created_at else rng.randint(1, 3),
                evaluation.created_at,
                evaluation.updated_at,
                evaluation.deleted_at,
            )


def _audit_rows(plan: DemoPlan) -> Iterator[Row]:
    anchor = plan.anchor
    timedelta = dt.timedelta
    later_kinds = ("view", "update", "export", "tier_upgrade")
    for world in plan.worlds():
        rng = world.rng("professional_data_audit")
        randint = rng.randint
        for evaluation in world.evaluations():
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
                    _uuid(rng),
                    evaluation.id,
                    evaluation.user_id,
                    kind,
                    fields,
                    session,
                    f"10.{randint(0, 255)}.{randint(0, 255)}.{randint(1, 254)}",
                    at,
                )


# --------------------------------------------------------------------------------------
# Tables, in load order
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TableSpec:
    name: str
    columns: tuple[str, ...]
    rows: Callable[[DemoPlan], Iterator[Row]]


TABLES = (
    TableSpec("tenants", ("id", "tenant_name", "slug", "created_at"), _tenant_rows),
    TableSpec("industries", ("id", "tenant_id", "industry_name", "created_at"), _industry_rows),
    TableSpec(
        "therapeutic_areas",
        ("id", "tenant_id", "code", "name", "created_at"),
        _therapeutic_area_rows,
    ),
    TableSpec(
        "products",
        ("id", "tenant_id", "therapeutic_area_id", "product_name", "lifecycle_stage", "created_at"),
        _product_rows,
    ),
    TableSpec(
        "diseases",
        ("id", "tenant_id", "therapeutic_area_id", "disease_name", "icd10_code", "created_at"),
        _disease_rows,
    ),
    TableSpec(
        "evidence",
        (
            "id",
            "tenant_id",
            "product_id",
            "disease_id",
            "evidence_type",
            "title",
            "evidence_level",
            "published_at",
            "created_at",
        ),
        _evidence_rows,
    ),
    TableSpec(
        "strategic_pillars",
        ("id", "code", "name", "description", "okr", "theme", "created_at"),
        _pillar_rows,
    ),
    TableSpec(
        "org_business_functions",
        ("id", "tenant_id", "industry_id", "function_name", "created_at"),
        _function_rows,
    ),
    TableSpec(
        "org_departments",
        ("id", "tenant_id", "function_id", "department_name", "created_at"),
        _department_rows,
    ),
    TableSpec(
        "org_roles",
        ("id", "tenant_id", "department_id", "role_name", "seniority", "headcount", "created_at"),
        _role_rows,
    ),
    TableSpec(
        "personas",
        (
            "id",
            "tenant_id",
            "role_id",
            "persona_name",
            "archetype",
            "validation_status",
            "ai_maturity_score",
            "work_complexity_score",
            "created_at",
            "updated_at",
        ),
        _persona_rows,
    ),
    TableSpec(
        "jtbd",
        (
            "id",
            "tenant_id",
            "code",
            "name",
            "job_statement",
            "complexity",
            "frequency",
            "status",
            "created_at",
            "updated_at",
            "deleted_at",
        ),
        _job_rows,
    ),
    TableSpec(
        "jtbd_roles",
        ("id", "tenant_id", "jtbd_id", "role_id", "is_primary", "time_share_pct", "created_at"),
        _job_role_rows,
    ),
    TableSpec(
        "jtbd_category_mappings",
        ("id", "jtbd_id", "pillar_id", "alignment_weight", "created_at"),
        _pillar_mapping_rows,
    ),
    TableSpec(
        "jtbd_outcomes",
        (
            "id",
            "jtbd_id",
            "outcome_statement",
            "importance_score",
            "satisfaction_score",
            "opportunity_score",
            "created_at",
        ),
        _outcome_rows,
    ),
    TableSpec(
        "jtbd_odi_scores",
        (
            "id",
            "tenant_id",
            "jtbd_id",
            "persona_id",
            "importance_score",
            "satisfaction_score",
            "opportunity_score",
            "opportunity_classification",
            "respondent_count",
            "scored_at",
        ),
        _odi_score_rows,
    ),
    TableSpec(
        "jtbd_ai_suitability",
        (
            "id",
            "jtbd_id",
            "overall_score",
            "data_readiness_score",
            "risk_score",
            "recommended_service_layer",
            "assessed_at",
        ),
        _suitability_rows,
    ),
    TableSpec(
        "ref_value_drivers",
        ("id", "code", "name", "value_category", "description"),
        _driver_rows,
    ),
    TableSpec(
        "ai_opportunities",
        (
            "id",
            "tenant_id",
            "jtbd_id",
            "opportunity_name",
            "automation_potential",
            "status",
            "priority",
            "estimated_time_savings_hours",
            "estimated_cost_savings_usd",
            "created_at",
            "updated_at",
        ),
        _ai_opportunity_rows,
    ),
    TableSpec(
        "ref_opportunities",
        (
            "id",
            "tenant_id",
            "target_jtbd_id",
            "primary_value_driver_id",
            "opportunity_name",
            "priority_rank",
            "created_at",
        ),
        _ref_opportunity_rows,
    ),
    TableSpec(
        "workflow_templates",
        (
            "id",
            "tenant_id",
            "jtbd_id",
            "name",
            "status",
            "estimated_duration_hours",
            "automation_level",
            "created_at",
            "updated_at",
            "deleted_at",
        ),
        _workflow_rows,
    ),
    TableSpec(
        "workflow_stages",
        (
            "id",
            "workflow_template_id",
            "stage_number",
            "name",
            "estimated_duration_hours",
            "created_at",
        ),
        _stage_rows,
    ),
    TableSpec(
        "workflow_tasks",
        (
            "id",
            "workflow_stage_id",
            "task_number",
            "name",
            "assigned_role_id",
            "estimated_minutes",
            "is_automatable",
            "created_at",
        ),
        _task_rows,
    ),
    TableSpec(
        "value_metrics",
        (
            "id",
            "tenant_id",
            "jtbd_id",
            "workflow_template_id",
            "value_driver_id",
            "metric_name",
            "value_category",
            "unit",
            "baseline_value",
            "target_value",
            "actual_value",
            "measured_at",
            "created_at",
        ),
        _value_metric_rows,
    ),
    TableSpec(
        "users",
        (
            "id",
            "tenant_id",
            "email",
            "display_name",
            "role_id",
            "persona_id",
            "created_at",
            "last_login_at",
        ),
        _user_rows,
    ),
    TableSpec(
        "user_preferences",
        ("id", "user_id", "saved_filters", "default_view", "updated_at"),
        _preference_rows,
    ),
    TableSpec(
        "business_evaluations",
        (
            "id",
            "tenant_id",
            "user_id",
            "subscription_tier",
            "business_data",
            "professional_data",
            "valuations",
            "opportunities",
            "health_score",
            "confidence_score",
            "status",
            "analysis_depth",
            "data_version",
            "created_at",
            "updated_at",
            "deleted_at",
        ),
        _evaluation_rows,
    ),
    TableSpec(
        "professional_data_audit",
        (
            "id",
            "evaluation_id",
            "user_id",
            "change_type",
            "changed_fields",
            "session_id",
            "ip_address",
            "timestamp",
        ),
        _audit_rows,
    ),
)
TABLE_NAMES = tuple(table.name for table in TABLES)


# --------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------


def check_schema_name(schema: str) -> str:
    """The schema name, if it is a plain lowercase identifier; DemoDataError otherwise."""
    if not SCHEMA_NAME.match(schema or "") or schema.startswith("pg_"):
        raise DemoDataError(
            "schema must be a plain lowercase identifier (letters, digits, underscores; "
            f"not starting with pg_), got {schema!r}"
        )
    return schema


def _ddl_statements() -> tuple[list[str], list[str]]:
    """The source DDL split into (tables and types, indexes), so indexes can follow the load."""
    lines = [
        line for line in DDL_PATH.read_text().splitlines() if not line.lstrip().startswith("--")
    ]
    statements = [part.strip() for part in "\n".join(lines).split(";") if part.strip()]
    indexes = [s for s in statements if re.match(r"create\s+(unique\s+)?index", s, re.IGNORECASE)]
    return [s for s in statements if s not in indexes], indexes


def _prepare_schema(conn: Any, schema: str, reset: bool) -> list[str] | None:
    """Make ``schema`` ready for loading.

    Returns the index statements still to run when the tables were created here (they are built
    after the load), or None when the load goes into existing, empty tables.
    """
    from psycopg import sql

    name = sql.Identifier(schema)
    exists = conn.execute("select 1 from pg_namespace where nspname = %s", (schema,)).fetchone()
    if exists:
        tables = {
            row[0]
            for row in conn.execute(
                "select tablename from pg_tables where schemaname = %s", (schema,)
            )
        }
        if "tenants" in tables and not reset:
            held = conn.execute(sql.SQL("select count(*) from {}.tenants").format(name)).fetchone()
            if held[0]:
                raise DemoDataError(
                    f"schema '{schema}' already holds data ({held[0]} tenants); "
                    "pass --reset to replace it"
                )
        if reset:
            conn.execute(sql.SQL("drop schema {} cascade").format(name))
            exists = None
        elif tables:
            missing = sorted(set(TABLE_NAMES) - tables)
            if missing:
                raise DemoDataError(
                    f"schema '{schema}' has tables but not all of the VITAL ones "
                    f"(missing {', '.join(missing)}); pass --reset to recreate it"
                )
            return None
    if not exists:
        conn.execute(sql.SQL("create schema {}").format(name))
    tables_and_types, indexes = _ddl_statements()
    conn.execute(sql.SQL("set local search_path to {}").format(name))
    for statement in tables_and_types:
        conn.execute(statement)
    return indexes


def _copy(cursor: Any, schema: str, table: TableSpec, plan: DemoPlan, freeze: bool) -> int:
    from psycopg import sql

    query = sql.SQL("copy {}.{} ({}) from stdin{}").format(
        sql.Identifier(schema),
        sql.Identifier(table.name),
        sql.SQL(", ").join(sql.Identifier(column) for column in table.columns),
        sql.SQL(" with (freeze)") if freeze else sql.SQL(""),
    )
    rows = 0
    with cursor.copy(query) as copy:
        write_row = copy.write_row
        for row in table.rows(plan):
            write_row(row)
            rows += 1
    return rows


def load_demo_data(
    settings: database.ConnectionSettings,
    *,
    scale: int,
    seed: int,
    schema: str = "vital",
    reset: bool = False,
    as_of: dt.date,
    progress: bool = True,
) -> dict[str, int]:
    """Load deterministic demo data into ``schema`` in one transaction; rows loaded per table.

    Creates the schema and its tables when missing. A schema that already holds tenants is left
    alone unless ``reset`` is set, which drops and recreates it.
    """
    check_schema_name(schema)
    if isinstance(scale, bool) or not isinstance(scale, int) or scale < 1:
        raise DemoDataError(f"scale must be a whole number of at least 1, got {scale!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise DemoDataError(f"seed must be a non-negative whole number, got {seed!r}")

    def say(message: str) -> None:
        if progress:
            print(f"demo-data: {message}", file=sys.stderr, flush=True)

    plan = DemoPlan(seed=seed, scale=scale, as_of=as_of)
    counts: dict[str, int] = {}
    started = time.perf_counter()
    with database.connect(settings) as conn, conn.transaction():
        deferred_indexes = _prepare_schema(conn, schema, reset)
        created = deferred_indexes is not None
        say(f"loading scale {scale}, seed {seed}, as of {as_of} into schema {schema}")
        with conn.cursor() as cursor:
            for table in TABLES:
                table_started = time.perf_counter()
                counts[table.name] = _copy(cursor, schema, table, plan, freeze=created)
                elapsed = time.perf_counter() - table_started
                say(f"{table.name:<24} {counts[table.name]:>10,} rows {elapsed:7.2f}s")
        if deferred_indexes:
            step = time.perf_counter()
            for statement in deferred_indexes:
                conn.execute(statement)
            say(f"{len(deferred_indexes)} indexes built in {time.perf_counter() - step:.2f}s")
        step = time.perf_counter()
        from psycopg import sql

        for table in TABLES:
            conn.execute(
                sql.SQL("analyze {}.{}").format(sql.Identifier(schema), sql.Identifier(table.name))
            )
        say(f"analyzed in {time.perf_counter() - step:.2f}s")
    say(f"{sum(counts.values()):,} rows in {time.perf_counter() - started:.1f}s")
    return counts


def _count(settings: database.ConnectionSettings, schema: str, query: Any) -> Any:
    import psycopg

    try:
        with database.connect(settings) as conn:
            return conn.execute(query).fetchone()[0]
    except psycopg.errors.UndefinedTable as error:
        raise DemoDataError(
            f"schema '{schema}' lacks a VITAL table ({str(error).splitlines()[0]}); "
            "load demo data first"
        ) from None


def table_counts(
    settings: database.ConnectionSettings, schema: str | None = None
) -> dict[str, int]:
    """Rows per VITAL table in ``schema``, in load order."""
    from psycopg import sql

    schema = check_schema_name(schema or project_settings.source_schema())
    query = sql.SQL("select array[{}]").format(
        sql.SQL(", ").join(
            sql.SQL("(select count(*) from {}.{})").format(
                sql.Identifier(schema), sql.Identifier(name)
            )
            for name in TABLE_NAMES
        )
    )
    return dict(zip(TABLE_NAMES, _count(settings, schema, query), strict=True))


def heatmap_pair_count(settings: database.ConnectionSettings, schema: str | None = None) -> int:
    """Published persona x live job pairs linked through the persona's role (the heatmap's rows)."""
    from psycopg import sql

    schema = check_schema_name(schema or project_settings.source_schema())
    query = sql.SQL(HEATMAP_PAIRS_SQL).format(schema=sql.Identifier(schema))
    return int(_count(settings, schema, query))
