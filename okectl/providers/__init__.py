"""Providers: how okectl reads and writes a supplier's administration API."""
