"""The end-to-end reliability suite: the real agent, a simulated node, real backends, seeded faults."""
