"""mlform: infrastructure as code for machine learning platforms."""

__version__ = "0.1.0"
