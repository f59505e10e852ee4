"""The HTTP side: model list, ephemeral token minting, health, readiness, metrics (errors in Google's JSON
shape).

``/healthz`` is liveness: 200 once the models are loaded, also while the replica drains (restarting a
draining process would cut the replies it is finishing). ``/readyz`` is readiness, for load balancers:
200 only while the replica admits new sessions; 503 while it loads, drains or is full.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from openlive.engine import ModelInfo, strip_model_prefix
from openlive.protocol import decode_client_message, load_json_object
from openlive.protocol.errors import ProtocolError
from openlive.server.auth import extract_credential, key_fingerprint
from openlive.server.metrics import CONTENT_TYPE
from openlive.server.paths import API_VERSIONS
from openlive.server.state import ServerState
from openlive.server.tokens import TokenRequestError

_STATUS = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    503: "UNAVAILABLE",
}


def google_error(code: int, message: str) -> JSONResponse:
    """``{"error": {"code", "message", "status"}}``, as Google's REST APIs answer (and the SDKs parse)."""
    return JSONResponse(
        {"error": {"code": code, "message": message, "status": _STATUS.get(code, "UNKNOWN")}},
        status_code=code,
    )


def _state(request: Request) -> ServerState:
    state: ServerState = request.app.state.openlive
    return state


def _version(request: Request) -> str | None:
    v = request.path_params.get("version")
    return v if v in API_VERSIONS else None


async def _check_key(request: Request, state: ServerState, *, allow_token: bool) -> Response | None:
    """None when the caller may go on, else the error response (REST uses HTTP statuses, not closes)."""
    cred = extract_credential(request.headers, request.query_params)
    if cred.token is not None:
        if not allow_token:
            return google_error(403, "Ephemeral tokens cannot be used for this method.")
        try:
            await state.tokens.check_open(cred.token)
        except ProtocolError as exc:
            return google_error(401, exc.reason)
        return None
    reason = state.keys.check(cred.api_key)
    if reason is None:
        return None
    return google_error(400 if cred.api_key else 403, reason)


def _model_json(state: ServerState, info: ModelInfo) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": f"models/{info.id}",
        "baseModelId": info.id,
        "version": "001",
        "displayName": info.display_name,
        "description": info.description,
        "supportedGenerationMethods": ["bidiGenerateContent"],
    }
    try:
        profile = state.engine.profile(info.profile)
    except KeyError:
        return out  # not loaded yet: the token limits are not known
    out["inputTokenLimit"] = profile.input_token_limit
    out["outputTokenLimit"] = profile.output_token_limit
    return out


async def list_models(request: Request) -> Response:
    state = _state(request)
    if _version(request) is None:
        return google_error(404, "Method not found.")
    if (err := await _check_key(request, state, allow_token=True)) is not None:
        return err
    return JSONResponse({"models": [_model_json(state, m) for m in state.engine.catalog.list()]})


async def get_model(request: Request) -> Response:
    state = _state(request)
    version = _version(request)
    if version is None:
        return google_error(404, "Method not found.")
    if (err := await _check_key(request, state, allow_token=True)) is not None:
        return err
    model_id = strip_model_prefix(request.path_params["model_id"])
    for info in state.engine.catalog.list():
        if info.id == model_id:
            return JSONResponse(_model_json(state, info))
    return google_error(
        404,
        f"models/{model_id} is not found for API version {version}, or is not supported for "
        "bidiGenerateContent. Call ListModels to see the list of available models.",
    )


# A token request is a small JSON object (a setup to lock in at most); far larger is not one.
MAX_TOKEN_REQUEST_BYTES = 1024 * 1024


async def create_auth_token(request: Request) -> Response:
    state = _state(request)
    if _version(request) is None:
        return google_error(404, "Method not found.")
    if (err := await _check_key(request, state, allow_token=False)) is not None:
        return err
    raw = await request.body()
    if len(raw) > MAX_TOKEN_REQUEST_BYTES:
        return google_error(413, f"Request payload size exceeds the limit: {MAX_TOKEN_REQUEST_BYTES} bytes.")
    try:
        # The protocol's parser and its limits (nesting, digits, sizes): a hostile body is a 400, never
        # a RecursionError or ValueError turned into a 500.
        body = load_json_object(raw) if raw.strip() else {}
    except ProtocolError as exc:
        return google_error(400, f"Invalid JSON payload received: {exc.reason}")
    owner = key_fingerprint(extract_credential(request.headers, request.query_params).api_key or "")
    try:
        token = state.tokens.prepare(body, owner=owner)
    except TokenRequestError as exc:
        return google_error(400, str(exc))
    if token.locked_setup is not None:
        # Reject a locked setup the session would refuse anyway, now rather than at connect time.
        probe = {"model": "models/probe", **token.locked_setup}
        try:
            decode_client_message(json.dumps({"setup": probe}))
        except ProtocolError as exc:
            return google_error(400, f"Invalid bidiGenerateContentSetup: {exc.reason}")
    await state.tokens.add(token)
    state.metrics.tokens_minted.inc()
    return JSONResponse(token.response_json())


async def healthz(request: Request) -> Response:
    if _state(request).engine.is_ready():
        return JSONResponse({"status": "ok"})
    return JSONResponse({"status": "loading"}, status_code=503)


async def readyz(request: Request) -> Response:
    """200 while new sessions are admitted; 503 with the reason (loading, draining, full) otherwise."""
    reason = _state(request).ready()
    if reason is None:
        return JSONResponse({"status": "ready"})
    return JSONResponse({"status": reason}, status_code=503)


async def metrics(request: Request) -> Response:
    return Response(_state(request).metrics.render(), media_type=CONTENT_TYPE)
