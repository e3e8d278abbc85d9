{{ quarantine_rows('business_evaluations') }}
