"""The dashboard API: HTTP routing, query parameters, Firebase Auth and roles, file exports
(csv, ndjson, json, xlsx, pdf), the audit log and per-user rate limits. The one place errors
become HTTP responses. Imports every package above except adapters and runtime."""
