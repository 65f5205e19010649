"""Firestore and BigQuery behind the protocols the other packages define: the generation and
event store with its rollup reads and fold, the alert store, the export sources, the BigQuery
warehouse. The only code that touches documents or tables. Imports any package but runtime."""
