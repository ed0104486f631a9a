"""Bridges to other reservoir-computing and spiking libraries (optional extras)."""
