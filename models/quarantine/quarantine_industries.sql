{{ quarantine_rows('industries') }}
