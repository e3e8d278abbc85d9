{{ quarantine_rows('strategic_pillars') }}
