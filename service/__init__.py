"""Descent's HTTP service: API, persistence, settings, auth and the command line."""
