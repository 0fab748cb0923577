"""`parse`: a field's text into fields (JSON, logfmt, regex and named formats), and the record's time."""
