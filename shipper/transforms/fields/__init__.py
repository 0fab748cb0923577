"""`fields`: add, set, rename, copy, remove and lift fields."""
