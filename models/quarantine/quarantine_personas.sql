{{ quarantine_rows('personas') }}
