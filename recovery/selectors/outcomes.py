"""Reads for outcomes."""
