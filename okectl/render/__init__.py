"""Renderers: the same plan as text, JSON or Markdown."""
