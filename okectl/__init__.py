"""okectl: configuration as code for OKE."""
