{{ quarantine_rows('org_departments') }}
