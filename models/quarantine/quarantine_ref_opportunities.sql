{{ quarantine_rows('ref_opportunities') }}
