"""The baseline: a bare python-telegram-bot echo bot with PTB's defaults behind an aiohttp webhook.

Built the way PTB's own examples/customwebhookbot.py does it (the update is queued, the request
answered at once, PTB's default httpx transport, one update at a time).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal

from aiohttp import web
from telegram import Update
from telegram.ext import Application, ContextTypes, MessageHandler, filters


async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Send the text back."""
    if update.message is not None and update.message.text is not None:
        await update.message.reply_text(update.message.text)


async def main(api_url: str, token: str, port: int) -> None:
    """Run until SIGTERM."""
    application = Application.builder().token(token).base_url(api_url).updater(None).build()
    application.add_handler(MessageHandler(filters.TEXT, echo))

    async def webhook(request: web.Request) -> web.Response:
        await application.update_queue.put(Update.de_json(json.loads(await request.read()), application.bot))
        return web.Response()

    async def ready(_request: web.Request) -> web.Response:
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/telegram", webhook)
    app.router.add_get("/healthz", ready)
    runner = web.AppRunner(app, access_log=None)
    async with application:
        await application.start()
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        await stop.wait()
        await runner.cleanup()
        await application.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--api-url", required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    asyncio.run(main(args.api_url, args.token, args.port))
