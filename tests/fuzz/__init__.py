"""Bad input everywhere: property-based tests (hypothesis) and atheris fuzz targets."""
