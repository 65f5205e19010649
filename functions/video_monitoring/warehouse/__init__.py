"""BigQuery: one row model per exported table (the schemas come from them), the nightly export
of one day, and the SQL that rebuilds rollup cells from the archive for windows older than the
operational store keeps. Pure, behind protocols; the client lives in adapters. Imports core,
config, privacy and ingest."""
