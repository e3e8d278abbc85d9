{{ quarantine_rows('jtbd_odi_scores') }}
