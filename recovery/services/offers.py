"""Writes for offers."""
