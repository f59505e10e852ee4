"""The profile type the engine runs sessions over (defined with the stages; see stages/profile.py)."""

from openlive.stages.profile import Profile

__all__ = ["Profile"]
