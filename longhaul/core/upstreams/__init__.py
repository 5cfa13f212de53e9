"""Upstreams as data (configurations, secrets, clients, routing) and ownership of upstream ids."""
