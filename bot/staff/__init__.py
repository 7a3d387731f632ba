"""Tools for the staff who write the scripts."""
