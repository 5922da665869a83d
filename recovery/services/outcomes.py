"""Writes for outcomes."""
