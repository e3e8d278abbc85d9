{{ quarantine_rows('org_business_functions') }}
