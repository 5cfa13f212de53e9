"""Pydantic wire models: request bodies, views, webhook payloads. No DB, no web framework."""
