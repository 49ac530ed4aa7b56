"""The API's documentation: the error answer every route shares, as the OpenAPI document
describes it, and the pages that show the document (/docs, /redoc).

The pages are FastAPI's own, but their scripts, style sheet and icon are served by the service
itself from the fastapi-offline package, never from a CDN: a bank's network often reaches
none, and a page that loads nothing is blank.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field

DOCS_URL = "/docs"
REDOC_URL = "/redoc"
ASSETS_URL = "/docs/assets"
_ASSETS_PACKAGE = ("fastapi_offline", "static")


class ErrorBody(BaseModel):
    """Every refusal and failure is answered with this body and a 4xx or 5xx status."""

    error: str = Field(
        description="a stable, machine-readable code", examples=["invalid_signature"]
    )
    detail: str = Field(description="what went wrong, for a person to read")


def _answer(codes: str) -> dict[str, Any]:
    return {"model": ErrorBody, "description": codes}


# What a provider's webhook may be answered instead of its 2xx. A 5xx is worth a retry.
WEBHOOK_ERRORS: dict[int | str, dict[str, Any]] = {
    400: _answer("`malformed_body`: the body cannot be read as the provider sends it"),
    403: _answer("`invalid_signature` or `stale_timestamp`: refused and audited"),
    413: _answer("`payload_too_large`: larger than SWITCHBOARD_MAX_BODY_BYTES"),
    415: _answer("`unsupported_media_type`"),
    422: _answer("`missing_field` or `invalid_request`: a field the route needs is absent"),
    500: _answer("`internal_error`: nothing was stored; the provider should retry"),
    503: _answer(
        "`secret_not_configured` (its secret is unset) or `database_unavailable`: retry later"
    ),
}
READINESS_ERRORS: dict[int | str, dict[str, Any]] = {
    503: _answer(
        "`database_unavailable`, `database_behind` (migrations pending) or, in production,"
        " `secret_not_configured` (the settings unset are listed)"
    ),
}


def serve_api_docs(app: FastAPI) -> None:
    """Add /docs (Swagger UI) and /redoc for the app's OpenAPI document, with their assets."""
    app.mount(ASSETS_URL, StaticFiles(packages=[_ASSETS_PACKAGE]), name="api-docs-assets")
    openapi_url = app.openapi_url or "/openapi.json"

    @app.get(DOCS_URL, include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_swagger_ui_html(
            openapi_url=f"{root}{openapi_url}",
            title=f"{app.title} - Swagger UI",
            swagger_js_url=f"{root}{ASSETS_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{ASSETS_URL}/swagger-ui.css",
            swagger_favicon_url=f"{root}{ASSETS_URL}/favicon.png",
            # Swagger UI would otherwise send the document to a public validator.
            swagger_ui_parameters={"validatorUrl": None},
        )

    @app.get(REDOC_URL, include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_redoc_html(
            openapi_url=f"{root}{openapi_url}",
            title=f"{app.title} - ReDoc",
            redoc_js_url=f"{root}{ASSETS_URL}/redoc.standalone.js",
            redoc_favicon_url=f"{root}{ASSETS_URL}/favicon.png",
            with_google_fonts=False,
        )
