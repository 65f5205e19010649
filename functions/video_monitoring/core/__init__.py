"""The vocabulary every package shares: the input documents (pydantic models), query windows,
the error types the dashboard maps to HTTP, the clock, plain JSON values, small statistics, and
the one retry policy. Imports nothing of this package."""
