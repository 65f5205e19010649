"""The figures the dashboard and the alert tick read: system metrics, quality, providers,
business, trends with forecasts, user behaviour, from rollup cells (and from the archive for old
windows). Imports core, config, privacy, ingest, alerting and warehouse."""
