{{ quarantine_rows('ref_value_drivers') }}
