{{ quarantine_rows('user_preferences') }}
