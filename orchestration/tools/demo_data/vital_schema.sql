-- The VITAL source tables: the operational schema Value View reads.
-- Names follow the specification's SQL so that its example queries run unchanged.
-- Executed with search_path set to the source schema (``vital`` by default).

create type archetype_enum as enum ('AUTOMATOR', 'ORCHESTRATOR', 'LEARNER', 'SKEPTIC');

-- L0 tenancy and domain knowledge ------------------------------------------------------

create table tenants (
    id uuid primary key,
    tenant_name text not null,
    slug text not null unique,
    created_at timestamptz not null default now()
);

create table industries (
    id uuid primary key,
    tenant_id uuid not null references tenants (id),
    industry_name text not null,
    created_at timestamptz not null default now()
);

create table therapeutic_areas (
    id uuid primary key,
    tenant_id uuid not null references tenants (id),
    code text not null,
    name text not null,
    created_at timestamptz not null default now(),
    unique (tenant_id, code)
);

create table products (
    id uuid primary key,
    tenant_id uuid not null references tenants (id),
    therapeutic_area_id uuid not null references therapeutic_areas (id),
    product_name text not null,
    lifecycle_stage text not null
        check (lifecycle_stage in ('preclinical', 'phase_1', 'phase_2', 'phase_3', 'launched', 'mature')),
    created_at timestamptz not null default now()
);

create table diseases (
    id uuid primary key,
    tenant_id uuid not null references tenants (id),
    therapeutic_area_id uuid not null references therapeutic_areas (id),
    disease_name text not null,
    icd10_code text not null,
    created_at timestamptz not null default now()
);

create table evidence (
    id uuid primary key,
    tenant_id uuid not null references tenants (id),
    product_id uuid references products (id),
    disease_id uuid references diseases (id),
    evidence_type text not null
        check (evidence_type in ('rct', 'real_world', 'meta_analysis', 'guideline', 'label', 'publication')),
    title text not null,
    evidence_level text not null check (evidence_level in ('A', 'B', 'C', 'D')),
    published_at date not null,
    created_at timestamptz not null default now()
);

-- L1 strategic pillars (platform-wide, SP01-SP07) -------------------------------------

create table strategic_pillars (
    id uuid primary key,
    code text not null unique check (code ~ '^SP0[1-7]$'),
    name text not null,
    description text not null,
    okr text,
    theme text,
    created_at timestamptz not null default now()
);

-- L2 organisation ----------------------------------------------------------------------

create table org_business_functions (
    id uuid primary key,
    tenant_id uuid not null references tenants (id),
    industry_id uuid not null references industries (id),
    function_name text not null,
    created_at timestamptz not null default now()
);

create table org_departments (
    id uuid primary key,
    tenant_id uuid not null references tenants (id),
    function_id uuid not null references org_business_functions (id),
    department_name text not null,
    created_at timestamptz not null default now()
);

create table org_roles (
    id uuid primary key,
    tenant_id uuid not null references tenants (id),
    department_id uuid not null references org_departments (id),
    role_name text not null,
    seniority text not null
        check (seniority in ('associate', 'specialist', 'manager', 'senior_manager', 'director', 'executive')),
    headcount integer not null default 1 check (headcount >= 0),
    created_at timestamptz not null default now()
);

-- L3 personas --------------------------------------------------------------------------

create table personas (
    id uuid primary key,
    tenant_id uuid not null references tenants (id),
    role_id uuid not null references org_roles (id),
    persona_name text not null,
    archetype archetype_enum not null,
    validation_status text not null
        check (validation_status in ('draft', 'in_review', 'published', 'archived')),
    ai_maturity_score numeric(4, 2) not null check (ai_maturity_score between 0 and 10),
    work_complexity_score numeric(4, 2) not null check (work_complexity_score between 0 and 10),
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);

-- L4 jobs to be done -------------------------------------------------------------------

create table jtbd (
    id uuid primary key,
    tenant_id uuid not null references tenants (id),
    code text not null,
    name text not null,
    job_statement text not null,
    complexity text not null check (complexity in ('low', 'medium', 'high', 'very_high')),
    frequency text not null
        check (frequency in ('daily', 'weekly', 'monthly', 'quarterly', 'annually')),
    status text not null check (status in ('draft', 'active', 'retired')),
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    deleted_at timestamptz,
    unique (tenant_id, code)
);

create table jtbd_roles (
    id uuid primary key,
    tenant_id uuid not null references tenants (id),
    jtbd_id uuid not null references jtbd (id),
    role_id uuid not null references org_roles (id),
    is_primary boolean not null default false,
    time_share_pct numeric(5, 2) check (time_share_pct between 0 and 100),
    created_at timestamptz not null default now(),
    unique (jtbd_id, role_id)
);

create table jtbd_category_mappings (
    id uuid primary key,
    jtbd_id uuid not null references jtbd (id),
    pillar_id uuid not null references strategic_pillars (id),
    alignment_weight numeric(3, 2) not null default 1 check (alignment_weight between 0 and 1),
    created_at timestamptz not null default now(),
    unique (jtbd_id, pillar_id)
);

-- L5 outcomes and ODI scores -----------------------------------------------------------

create table jtbd_outcomes (
    id uuid primary key,
    jtbd_id uuid not null references jtbd (id),
    outcome_statement text not null,
    importance_score numeric(4, 2) not null check (importance_score between 0 and 10),
    satisfaction_score numeric(4, 2) not null check (satisfaction_score between 0 and 10),
    opportunity_score numeric(4, 2) not null check (opportunity_score between 0 and 20),
    created_at timestamptz not null default now()
);

create table jtbd_odi_scores (
    id uuid primary key,
    tenant_id uuid not null references tenants (id),
    jtbd_id uuid not null references jtbd (id),
    persona_id uuid not null references personas (id),
    importance_score numeric(4, 2) not null check (importance_score between 0 and 10),
    satisfaction_score numeric(4, 2) not null check (satisfaction_score between 0 and 10),
    opportunity_score numeric(4, 2) not null check (opportunity_score between 0 and 20),
    opportunity_classification text not null check (
        opportunity_classification
        in ('highly_underserved', 'underserved', 'appropriately_served', 'overserved')
    ),
    respondent_count integer not null default 0 check (respondent_count >= 0),
    scored_at timestamptz not null default now(),
    unique (jtbd_id, persona_id)
);

create table jtbd_ai_suitability (
    id uuid primary key,
    jtbd_id uuid not null unique references jtbd (id),
    overall_score numeric(3, 2) not null check (overall_score between 0 and 1),
    data_readiness_score numeric(3, 2) not null check (data_readiness_score between 0 and 1),
    risk_score numeric(3, 2) not null check (risk_score between 0 and 1),
    recommended_service_layer text not null
        check (recommended_service_layer in ('ask_me', 'ask_expert', 'ask_panel', 'workflow')),
    assessed_at timestamptz not null default now()
);

-- L7 value drivers, opportunities and metrics ------------------------------------------

create table ref_value_drivers (
    id uuid primary key,
    code text not null unique,
    name text not null,
    value_category text not null
        check (value_category in ('time', 'cost', 'quality', 'risk', 'strategic_impact')),
    description text not null
);

create table ai_opportunities (
    id uuid primary key,
    tenant_id uuid not null references tenants (id),
    jtbd_id uuid not null references jtbd (id),
    opportunity_name text not null,
    automation_potential numeric(3, 2) not null check (automation_potential between 0 and 1),
    status text not null check (
        status in ('identified', 'evaluating', 'approved', 'in_progress', 'delivered', 'rejected')
    ),
    priority text not null check (priority in ('low', 'medium', 'high', 'critical')),
    estimated_time_savings_hours numeric(10, 1) not null check (estimated_time_savings_hours >= 0),
    estimated_cost_savings_usd numeric(15, 2) not null check (estimated_cost_savings_usd >= 0),
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);

create table ref_opportunities (
    id uuid primary key,
    tenant_id uuid not null references tenants (id),
    target_jtbd_id uuid not null references jtbd (id),
    primary_value_driver_id uuid references ref_value_drivers (id),
    opportunity_name text not null,
    priority_rank integer not null check (priority_rank > 0),
    created_at timestamptz not null default now()
);

-- L6 workflows -------------------------------------------------------------------------

create table workflow_templates (
    id uuid primary key,
    tenant_id uuid not null references tenants (id),
    jtbd_id uuid not null references jtbd (id),
    name text not null,
    status text not null check (status in ('draft', 'active', 'deprecated')),
    estimated_duration_hours numeric(8, 2) not null check (estimated_duration_hours >= 0),
    automation_level text not null
        check (automation_level in ('manual', 'assisted', 'semi_automated', 'automated')),
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    deleted_at timestamptz
);

create table workflow_stages (
    id uuid primary key,
    workflow_template_id uuid not null references workflow_templates (id),
    stage_number integer not null check (stage_number > 0),
    name text not null,
    estimated_duration_hours numeric(8, 2) not null check (estimated_duration_hours >= 0),
    created_at timestamptz not null default now(),
    unique (workflow_template_id, stage_number)
);

create table workflow_tasks (
    id uuid primary key,
    workflow_stage_id uuid not null references workflow_stages (id),
    task_number integer not null check (task_number > 0),
    name text not null,
    assigned_role_id uuid references org_roles (id),
    estimated_minutes integer not null check (estimated_minutes >= 0),
    is_automatable boolean not null default false,
    created_at timestamptz not null default now(),
    unique (workflow_stage_id, task_number)
);

create table value_metrics (
    id uuid primary key,
    tenant_id uuid not null references tenants (id),
    jtbd_id uuid not null references jtbd (id),
    workflow_template_id uuid references workflow_templates (id),
    value_driver_id uuid not null references ref_value_drivers (id),
    metric_name text not null,
    value_category text not null
        check (value_category in ('time', 'cost', 'quality', 'risk', 'strategic_impact')),
    unit text not null check (unit in ('hours', 'usd', 'percent', 'score')),
    baseline_value numeric(15, 2) not null,
    target_value numeric(15, 2) not null,
    actual_value numeric(15, 2),
    measured_at timestamptz not null,
    created_at timestamptz not null default now()
);

-- Users and their saved preferences ---------------------------------------------------

create table users (
    id uuid primary key,
    tenant_id uuid not null references tenants (id),
    email text not null unique,
    display_name text not null,
    role_id uuid references org_roles (id),
    persona_id uuid references personas (id),
    created_at timestamptz not null default now(),
    last_login_at timestamptz
);

create table user_preferences (
    id uuid primary key,
    user_id uuid not null unique references users (id),
    saved_filters jsonb not null default '{}'::jsonb,
    default_view text not null
        check (default_view in ('heatmap', 'persona', 'workflow', 'strategic', 'value')),
    updated_at timestamptz not null default now()
);

-- Professional tier (second document) --------------------------------------------------

create table business_evaluations (
    id uuid primary key,
    tenant_id uuid not null references tenants (id),
    user_id uuid not null references users (id),
    subscription_tier text not null
        check (subscription_tier in ('basic', 'professional', 'enterprise')),
    business_data jsonb not null,
    professional_data jsonb,
    valuations jsonb,
    opportunities jsonb,
    health_score numeric(5, 2) check (health_score between 0 and 100),
    confidence_score numeric(5, 2) check (confidence_score between 0 and 100),
    status text not null
        check (status in ('draft', 'processing', 'completed', 'failed', 'archived')),
    analysis_depth text not null check (analysis_depth in ('standard', 'comprehensive', 'deep')),
    data_version integer not null default 1,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    deleted_at timestamptz
);

create table professional_data_audit (
    id uuid primary key,
    evaluation_id uuid not null,
    user_id uuid not null references users (id),
    change_type text not null
        check (change_type in ('create', 'update', 'tier_upgrade', 'view', 'export', 'delete')),
    changed_fields text [] not null default '{}',
    session_id text,
    ip_address inet,
    "timestamp" timestamptz not null default now()
);

-- Indexes recommended by the specification -------------------------------------------

create index idx_industries_tenant on industries (tenant_id);
create index idx_functions_industry on org_business_functions (industry_id);
create index idx_departments_function on org_departments (function_id);
create index idx_roles_department on org_roles (department_id);
create index idx_roles_role_name on org_roles (role_name);
create index idx_personas_role on personas (role_id);
create index idx_jtbd_tenant on jtbd (tenant_id);
create index idx_jtbd_roles_role on jtbd_roles (role_id);
create index idx_jtbd_category_mappings_pillar on jtbd_category_mappings (pillar_id);
create index idx_jtbd_outcomes_jtbd on jtbd_outcomes (jtbd_id);
create index idx_jtbd_odi_scores_persona on jtbd_odi_scores (persona_id);
create index idx_ai_opportunities_jtbd on ai_opportunities (jtbd_id);
create index idx_ref_opportunities_target_jtbd on ref_opportunities (target_jtbd_id);
create index idx_workflow_templates_jtbd on workflow_templates (jtbd_id);
create index idx_workflow_stages_template on workflow_stages (workflow_template_id);
create index idx_workflow_tasks_stage on workflow_tasks (workflow_stage_id);
create index idx_value_metrics_jtbd on value_metrics (jtbd_id);
create index idx_value_metrics_workflow on value_metrics (workflow_template_id);
create index idx_users_tenant on users (tenant_id);

create index idx_jtbd_odi_covering on jtbd (id, code, name, complexity, frequency)
include (job_statement, status)
where deleted_at is null;

create index idx_persona_archetype_covering on personas (id, persona_name, archetype, role_id)
include (ai_maturity_score, work_complexity_score)
where validation_status = 'published';

create index idx_workflow_jtbd_covering on workflow_templates (id, jtbd_id, name, status)
include (estimated_duration_hours, automation_level);

create index idx_business_evaluations_user_tier on business_evaluations (user_id, subscription_tier)
include (created_at, status, health_score);

create index idx_business_evaluations_professional_gin on business_evaluations
using gin (professional_data)
where professional_data is not null;

create index idx_professional_financial_metrics on business_evaluations
using gin ((professional_data -> 'financialMetrics'))
where subscription_tier in ('professional', 'enterprise');

create index idx_professional_customer_analytics on business_evaluations
using gin ((professional_data -> 'customerAnalytics'))
where subscription_tier in ('professional', 'enterprise');

create index idx_business_evaluations_tier_created on business_evaluations
(subscription_tier, created_at desc)
where deleted_at is null;

create index idx_business_evaluations_status_tier on business_evaluations
(status, subscription_tier, updated_at desc);

create index idx_professional_data_audit_user_timestamp on professional_data_audit
(user_id, "timestamp" desc);

create index idx_professional_data_audit_change_type on professional_data_audit
(change_type, "timestamp" desc);

create index idx_professional_data_audit_session on professional_data_audit
(session_id, "timestamp" desc)
where session_id is not null;
