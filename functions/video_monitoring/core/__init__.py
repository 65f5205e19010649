"""The vocabulary every package shares: the input documents (pydantic models), query windows,
the error types the dashboard maps to HTTP, the clock, and plain JSON values. Imports nothing of
this package."""
