"""Contracts generated from events/spec/ by `python manage.py generate_events`: JSON Schemas, DTOs, AsyncAPI."""
