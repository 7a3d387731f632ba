"""Comparing a request header with a secret: in constant time, and without failing on any bytes."""

from __future__ import annotations

import hmac


def is_secret(given: str, expected: str) -> bool:
    """Whether the header value `given` is `expected`, taking as long for any wrong value of its length.

    aiohttp turns header bytes that are not UTF-8 into lone surrogates (surrogateescape); encoding
    the value back the same way gives exactly the bytes sent, where a plain `.encode()` would raise
    (a 500 for one stray byte in a header).
    """
    return hmac.compare_digest(given.encode("utf-8", "surrogateescape"), expected.encode())
