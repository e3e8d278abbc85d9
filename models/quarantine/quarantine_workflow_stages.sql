{{ quarantine_rows('workflow_stages') }}
