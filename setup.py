"""Installs the `slowfast` package."""

from setuptools import find_packages, setup

setup(
    name="emim-slowfast",
    version="0.1.0",
    description="UniFormer video transformers with EMIM (Explicit Motion Information Mining)",
    packages=find_packages(include=["slowfast", "slowfast.*"]),
    python_requires=">=3.10",
)
