"""Embedded recommendation engine: recipes, training, scoring, filters, metrics."""
