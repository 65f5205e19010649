"""Reference code for the systems around the monitor (the generation service)."""
