"""Transforms: what happens to records between the source that reads them and the spool."""
