"""shipper: a node logging agent that never loses a line."""

__version__ = "0.2.0"
