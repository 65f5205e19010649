"""The browser suite runs against the session stack of tests/conftest.py, the one the integration
suite uses (one stack per run), without that suite's per-test wipe: the console's tests share
one module of seeded traffic."""
