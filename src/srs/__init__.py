"""SRS, the Service Recommendation System."""

__version__ = "0.1.0"
