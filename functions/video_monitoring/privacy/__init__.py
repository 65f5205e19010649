"""What the system keeps and for how long, and who can be named: retention and Firestore TTL,
the stand-ins and pseudonyms for users, and erasing one user's analytics data. Imports core and
config."""
