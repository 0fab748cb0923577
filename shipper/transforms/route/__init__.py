"""`route`: send records to named outputs by condition."""
