"""Placeholder: filled by the artifacts work."""
