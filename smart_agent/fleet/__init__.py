"""Fleet simulator: many simulated devices driving a server through the reference agent."""

from .identities import generate
from .runner import Config, Fleet, parse_licenses

__all__ = ["Config", "Fleet", "generate", "parse_licenses"]
