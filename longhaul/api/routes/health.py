"""Placeholder router module."""

router = None
