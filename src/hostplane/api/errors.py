"""Every error is JSON with a message that says what to fix; bad input never gives a 5xx."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from hostplane.api.schemas import EXTRA_HINTS, PATTERN_HINTS, UNION_TAGS
from hostplane.errors import (
    ConflictError,
    HostplaneError,
    IllegalTransitionError,
    NotFoundError,
    ValidationError,
)

STATUS = {
    ValidationError: 422,
    NotFoundError: 404,
    ConflictError: 409,
    IllegalTransitionError: 409,
}
CODES = {
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    422: "invalid",
    503: "unavailable",
}


def error_body(status: int, message: str, **extra: object) -> dict[str, object]:
    return {"error": CODES.get(status, "error"), "message": message, **extra}


def install(app: FastAPI) -> None:
    @app.exception_handler(HostplaneError)
    async def _hostplane(request: Request, exc: HostplaneError) -> JSONResponse:
        status = next((code for kind, code in STATUS.items() if isinstance(exc, kind)), 503)
        return JSONResponse(error_body(status, str(exc)), status_code=status)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = []
        for err in exc.errors():
            where = ".".join(
                str(p) for p in err.get("loc", ()) if p != "body" and p not in UNION_TAGS
            )
            msg = str(err.get("msg", "invalid"))
            pattern = (err.get("ctx") or {}).get("pattern")
            if err.get("type") == "string_pattern_mismatch" and pattern in PATTERN_HINTS:
                msg = f"must be {PATTERN_HINTS[pattern]}"
            field = str(err.get("loc", ("",))[-1])
            if err.get("type") == "extra_forbidden" and field in EXTRA_HINTS:
                msg = EXTRA_HINTS[field]
            problems.append(f"{where}: {msg}" if where else msg)
        message = "; ".join(str(p) for p in problems) or "the request is not valid"
        return JSONResponse(error_body(422, message), status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse(
            error_body(exc.status_code, str(exc.detail)),
            status_code=exc.status_code,
            headers=getattr(exc, "headers", None),
        )
