"""The local stack: Firestore emulator, functions host, simulator, demo, and the harness tests
and benchmarks drive it with (not deployed)."""
