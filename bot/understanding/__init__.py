"""Free text → the dialogue node that answers it: normalise, stem, match, and catch danger first."""
