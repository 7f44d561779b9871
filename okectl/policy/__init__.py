"""Harmonisation policies: rules, custom CEL rules, waivers and findings."""
