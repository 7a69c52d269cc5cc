"""Offline batch renderer: a YAML storyboard in, a finished film out."""

__version__ = "0.1.0"
