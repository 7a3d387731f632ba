"""The terminal adapter (`balansebot chat`): replies drawn in a terminal, typed input read back."""
