{{ quarantine_rows('diseases') }}
