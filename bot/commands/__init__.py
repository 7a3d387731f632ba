"""The `balansebot` subcommands, one module each."""
