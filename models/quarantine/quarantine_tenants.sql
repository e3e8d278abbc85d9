{{ quarantine_rows('tenants') }}
