"""Loading the desired state: YAML with source positions, models, profile resolution."""
