"""Placeholder: filled in by the linear work."""
__all__: list[str] = []
