{{ quarantine_rows('therapeutic_areas') }}
