"""Typed settings, read once from the environment."""

from config.settings import Settings, get_settings

__all__ = ["Settings", "get_settings"]
