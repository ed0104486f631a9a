"""Build script. Kept for the AOT build step (issue #3); metadata lives in pyproject.toml."""

from setuptools import setup

setup()
