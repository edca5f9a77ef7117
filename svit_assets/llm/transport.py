"""The wire under the official `AsyncOpenAI` client: an httpx2 transport over one aiohttp session.

Why not the SDK's own `DefaultAioHttpClient`: its adapter hands every body to httpx as an async stream
read chunk by chunk through several layers of iterators, with a context manager per chunk: about 0.1 ms
of CPU per request, when one process has only ~1.5 ms per request to spend at 640 req/s. The engine never
streams, so this transport reads each body whole inside aiohttp and gives httpx2 a finished response.
Everything above the wire stays the SDK's: it builds the request, adds auth and headers, and turns
statuses and failures into its exceptions (`httpx2.AsyncClient(transport=)` is the extension point it
documents for this).
"""

from __future__ import annotations

import aiohttp
import httpx2


class AiohttpTransport(httpx2.AsyncBaseTransport):
    def __init__(self, connections: int):
        self._connections = connections
        # the certificates httpx2 (and so the SDK) would trust; made here, as loading them takes ~50 ms
        self._ssl = httpx2.create_ssl_context()
        self._session: aiohttp.ClientSession | None = None

    def _open(self) -> aiohttp.ClientSession:
        """Opened on first use, inside the event loop the client runs in (aiohttp binds to it)."""
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=self._connections, ssl=self._ssl),
            cookie_jar=aiohttp.DummyCookieJar(),  # httpx2 keeps the cookies
            auto_decompress=False,  # httpx2 decodes by Content-Encoding, as for its own transports
        )
        return self._session

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        session = self._session or self._open()
        timeout = request.extensions.get("timeout", {})
        try:
            body: bytes | httpx2.AsyncByteStream | None = request.content or None
        except httpx2.RequestNotRead:  # a streamed upload (multipart files for the Batch API)
            body = request.stream  # type: ignore[assignment]
            request.headers.pop("transfer-encoding", None)  # aiohttp chunks it itself
        try:
            async with session.request(
                request.method,
                str(request.url),
                headers=request.headers.multi_items(),
                data=body,
                allow_redirects=False,  # httpx2 follows them, if asked to
                timeout=aiohttp.ClientTimeout(
                    sock_connect=timeout.get("connect"),
                    sock_read=timeout.get("read"),
                    connect=timeout.get("pool"),
                ),
            ) as response:
                content = await response.read()
        except TimeoutError as exc:  # aiohttp's socket and pool timeouts are TimeoutErrors
            raise httpx2.TimeoutException(str(exc) or "timed out", request=request) from exc
        except aiohttp.ClientConnectorError as exc:
            raise httpx2.ConnectError(str(exc), request=request) from exc
        except aiohttp.ClientError as exc:  # e.g. the server dropped the connection
            raise httpx2.ReadError(str(exc) or type(exc).__name__, request=request) from exc
        return httpx2.Response(
            response.status,
            headers=response.raw_headers,
            stream=httpx2.ByteStream(content),
            request=request,
            extensions={"http_version": b"HTTP/1.1", "reason_phrase": (response.reason or "").encode()},
        )

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
