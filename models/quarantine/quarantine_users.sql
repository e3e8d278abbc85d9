{{ quarantine_rows('users') }}
