"""Placeholder: filled in by the shape work."""
__all__: list[str] = []
