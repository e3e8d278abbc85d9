{{ quarantine_rows('ai_opportunities') }}
