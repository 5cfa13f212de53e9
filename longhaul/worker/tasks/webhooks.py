"""Placeholder task module."""
