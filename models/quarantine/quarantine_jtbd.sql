{{ quarantine_rows('jtbd') }}
