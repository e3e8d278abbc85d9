{{ quarantine_rows('jtbd_roles') }}
