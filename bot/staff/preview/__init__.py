"""`balansebot preview`: staff chat with the bot in a browser page, beside the flow chart."""
