"""Placeholder: filled by the costs work."""
