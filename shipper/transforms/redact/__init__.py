"""`redact`: secrets and personal data replaced before records leave the node."""
