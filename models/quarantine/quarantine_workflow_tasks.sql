{{ quarantine_rows('workflow_tasks') }}
