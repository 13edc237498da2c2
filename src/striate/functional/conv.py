"""Placeholder: filled in by the conv work."""
__all__: list[str] = []
