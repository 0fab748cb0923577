"""Test peers of our own that stand in front of, or in for, real backends (tests and benchmarks only)."""
