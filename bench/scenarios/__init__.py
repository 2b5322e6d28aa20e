"""One module per group of rows in the bench table; each returns plain dicts (JSON-ready)."""
