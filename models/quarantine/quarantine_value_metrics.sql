{{ quarantine_rows('value_metrics') }}
