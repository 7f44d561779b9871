"""OKE conformance: the vendored profiles with their overlays, the checks per level, the
runner, evidence packs and the repository's verification record (``okectl verify``)."""
