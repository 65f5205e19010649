"""Monitoring and analytics for the video generation platform.

The packages, innermost first; each may import only the ones before it (tests/unit/test_layout.py
holds the rule):

- core       the vocabulary: input documents, windows, errors, the clock, plain JSON values
- config     settings (read once from the environment) and the names of collections
- privacy    retention (Firestore TTL), pseudonyms, erasing one user's data
- ingest     exactly-once accounting of each change: planning, rollup arithmetic, the rollup
             journal and its fold, the percentile sketch, the nightly audit
- alerting   alert rules, the alert state machine, rule metrics, notifications
- warehouse  BigQuery rows and schemas, the nightly export, figures rebuilt from the archive
- analytics  the dashboard's figures: summary, quality, providers, business, trends, users
- dashboard  the HTTP API: routing, parameters, roles, file exports, audit
- adapters   Firestore and BigQuery behind the protocols the packages above define
- runtime    what main.py calls: the deployed handlers, the scheduled runs, the operator CLI

The local stack (emulator, functions host, simulator, demo) lives outside this package, in
`local_stack/` at the repository root, and is never deployed.
"""
