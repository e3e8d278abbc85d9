{{ quarantine_rows('evidence') }}
