"""Placeholder: filled in by the normalization work."""
__all__: list[str] = []
