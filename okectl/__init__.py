"""okectl: configuration as code for OKE."""

__version__ = "0.1.0"
