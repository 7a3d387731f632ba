"""Dialogue scripts: the YAML files staff edit, loaded into typed models and checked."""
