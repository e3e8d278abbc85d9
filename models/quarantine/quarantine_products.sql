{{ quarantine_rows('products') }}
