{{ quarantine_rows('jtbd_category_mappings') }}
