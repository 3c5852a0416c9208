"""Data side of SRS: generating, validating, preparing and storing interaction data."""
