{{ quarantine_rows('jtbd_outcomes') }}
