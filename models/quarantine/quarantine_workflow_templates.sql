{{ quarantine_rows('workflow_templates') }}
