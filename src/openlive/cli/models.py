"""``openlive models``: the models a server offers (``GET /{version}/models``, as google-genai lists them)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

import httpx

from openlive.client.commandline import CommandError, add_connection_arguments, guarded, run_sync
from openlive.client.endpoint import resolve_endpoint


def add_parser(subparsers: Any) -> None:
    p: argparse.ArgumentParser = subparsers.add_parser(
        "models", help="list the models a server offers", description="List the server's models."
    )
    p.add_argument("--json", action="store_true", help="print the server's JSON answer as is")
    add_connection_arguments(p)


def _error_message(response: httpx.Response) -> str:
    try:
        return str(response.json()["error"]["message"])
    except (ValueError, KeyError, TypeError):
        return response.text.strip()[:200] or response.reason_phrase


async def fetch_models(args: argparse.Namespace) -> dict[str, Any]:
    try:
        endpoint = resolve_endpoint(
            args.url, api_key=args.api_key, api_version=args.api_version, ssl=args.cafile
        )
    except (ValueError, FileNotFoundError) as exc:
        raise CommandError(str(exc)) from None
    url = f"{endpoint.rest_base}/{args.api_version}/models"
    headers = {k: v for k, v in endpoint.headers.items() if k.lower() == "x-goog-api-key"}
    verify: Any = endpoint.ssl if endpoint.ssl is not None else True
    try:
        async with httpx.AsyncClient(verify=verify, timeout=10.0) as http:
            response = await http.get(url, headers=headers)
    except httpx.HTTPError as exc:
        hint = " (for a self-signed certificate pass --cafile cert.pem)" if "CERTIFICATE" in str(exc) else ""
        raise CommandError(f"cannot connect to {url}: {exc or type(exc).__name__}{hint}") from None
    if response.status_code in (401, 403) or (response.status_code == 400 and "key" in response.text.lower()):
        raise CommandError(
            f"the server refused the key (HTTP {response.status_code}): {_error_message(response)}"
        )
    if response.status_code != 200:
        raise CommandError(f"GET {url} failed (HTTP {response.status_code}): {_error_message(response)}")
    try:
        body = response.json()
    except ValueError:
        raise CommandError(f"GET {url} did not return JSON") from None
    if not isinstance(body, dict):
        raise CommandError(f"GET {url} returned an unexpected answer")
    return body


async def main_async(args: argparse.Namespace) -> int:
    async def body() -> int:
        answer = await fetch_models(args)
        if args.json:
            print(json.dumps(answer, indent=2))
            return 0
        models = answer.get("models") or []
        width = max((len(str(m.get("name", ""))) for m in models), default=0)
        for m in models:
            print(f"{m.get('name', '')!s:<{width}}  {m.get('description', '')}".rstrip())
        if not models:
            print("(the server lists no models)", file=sys.stderr)
        return 0

    return await guarded(body)


def run(args: argparse.Namespace) -> int:
    return run_sync(main_async(args))
