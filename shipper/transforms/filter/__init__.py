"""`filter`: keep or drop records by condition."""
