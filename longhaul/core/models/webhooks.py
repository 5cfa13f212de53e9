"""Placeholder: filled by the webhooks work."""
