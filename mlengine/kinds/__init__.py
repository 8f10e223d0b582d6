"""Model kinds. Each module declares its params/training classes and registers itself.

Modules here must stay cheap to import (no torch at module level): the API process
imports them to validate specs. Trainers import their heavy libraries when they run.
"""
