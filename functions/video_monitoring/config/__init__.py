"""Settings, read once from the environment, and the collection names and other constants.
Imports only core."""
