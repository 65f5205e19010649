"""The local stack: Firestore emulator, functions host, simulator and demo (not deployed)."""
