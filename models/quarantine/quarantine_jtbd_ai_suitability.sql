{{ quarantine_rows('jtbd_ai_suitability') }}
