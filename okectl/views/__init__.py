"""Renderings of results: strings only, no I/O."""
