"""`throttle`: at most so many records per window and key."""
