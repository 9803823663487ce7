"""The contract between teams: the event specification (spec/), what `manage.py generate_events` makes
from it (schemas/, dtos.py, asyncapi.json), the envelope, validation with the apps' business rules,
and the compatibility check. It imports nothing else of the project."""
