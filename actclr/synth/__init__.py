"""Synthetic raw skeleton datasets in the real NTU RGB+D / PKU-MMD formats (``generate``)."""
from .generate import generate

__all__ = ["generate"]
