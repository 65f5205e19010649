"""What the deployed functions and the operator CLI call: dependencies wired from settings,
the trigger handlers, the scheduled runs, retries of transient failures. Imports anything."""
