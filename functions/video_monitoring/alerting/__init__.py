"""Alerts: rules as data, the pure state machine (pending, firing, resolved, escalation), the
rule metrics read from rollup cells, the alerting service, the notification outbox and its
channels (email, Slack, SMS, webhook). Imports core, config, privacy and ingest."""
