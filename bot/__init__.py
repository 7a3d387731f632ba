"""Balansebot: Balansekunst's anonymous guidance chatbot."""
