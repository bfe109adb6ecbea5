"""The web console: static files shipped in the package, served at `/` and `/console/`.

Nothing is built at install time and nothing is fetched at run time: `web/` holds the page,
its script and style, and uPlot (vendored with its licence, `web/vendor/`). The console
calls only the public /api/v1 routes with the user's token, so it can do nothing a user's
own client cannot; the files themselves need no token (they hold no data).
"""

from __future__ import annotations

from importlib.resources import files

from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

PACKAGE = "gputel.collector.api.http"
# Scripts, styles and API calls from this origin only; no framing (clickjacking).
HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; "
                               "style-src 'self' 'unsafe-inline'; script-src 'self'; "
                               "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


def index_html() -> str:
    """The console's page."""
    return (files(PACKAGE) / "web" / "index.html").read_text(encoding="utf-8")


def mount_console(app: FastAPI) -> None:
    """GET / answers the page; /console/ serves its files."""
    page = index_html()
    app.mount("/console", StaticFiles(packages=[(PACKAGE, "web")]), name="console")

    @app.get("/", include_in_schema=False)
    async def console() -> HTMLResponse:
        return HTMLResponse(page, headers=HEADERS)
