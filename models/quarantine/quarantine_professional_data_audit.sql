{{ quarantine_rows('professional_data_audit') }}
