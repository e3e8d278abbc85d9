{{ quarantine_rows('org_roles') }}
