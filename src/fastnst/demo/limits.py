"""What the demo server takes from a request, checked before any work: the content type, the
body's size and time, the header block's size, the options and whether they fit the model.

Each check raises :class:`~fastnst.demo.uploads.UploadError` (its HTTP status, one line).
"""

from __future__ import annotations

import json
import math

import anyio
from starlette.requests import Request

from fastnst.demo.uploads import UploadError


def header_bytes(scope: dict) -> int:
    """Bytes of a request's target and headers, as they came (``name: value\\r\\n`` each)."""
    target = len(scope.get("raw_path", b"")) + len(scope.get("query_string", b""))
    return target + sum(len(name) + len(value) + 4 for name, value in scope.get("headers", []))


def closing(status: int) -> dict[str, str]:
    """``Connection: close`` for answers given before the body was read whole (413, 408):
    the rest of the body is not read, so the connection cannot carry another request."""
    return {"Connection": "close"} if status in (408, 413) else {}


def check_content_type(content_type: str) -> None:
    """415 for an upload that says it is not an image (a missing or generic type is sniffed)."""
    kind = content_type.split(";")[0].strip().lower()
    if kind.startswith("multipart/"):
        raise UploadError(415, f"{kind} is a form: send the image's bytes as the request body "
                               "(Content-Type: image/jpeg, image/png...)")  # fmt: skip
    if kind and not kind.startswith("image/") and kind != "application/octet-stream":
        raise UploadError(415, f"not an image ({kind}): upload a JPEG, PNG, WebP, BMP or GIF")


async def read_limited(request: Request, max_bytes: int, timeout: float = 30.0) -> bytes:
    """The request body, refused (413) as soon as it passes ``max_bytes``: at once when its
    ``Content-Length`` says so, else counted as it streams in (chunked uploads); 408 when it
    takes over ``timeout`` seconds."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise UploadError(413, f"the upload is over the limit of {max_bytes} bytes")
    chunks, size = [], 0
    try:
        with anyio.fail_after(timeout):
            async for chunk in request.stream():
                size += len(chunk)
                if size > max_bytes:
                    raise UploadError(413, f"the upload is over the limit of {max_bytes} bytes")
                chunks.append(chunk)
    except TimeoutError as err:
        raise UploadError(408, f"the upload took over {timeout:g} s; try again") from err
    return b"".join(chunks)


def check_applicable(kind: str, style: object, painting: str | None) -> None:
    """400 for ``style`` on a model that is not multi-style, ``painting`` on one that is not
    arbitrary-style (the page never sends them; an API client learns what applies)."""
    if kind == "broken":
        return  # the catalog says why it cannot load
    if style is not None and kind != "multi":
        raise UploadError(400, f"style= picks a style of a multi-style model; this one is {kind}"
                          + (": pass painting=ID" if kind == "arbitrary" else ": drop style="))
    if painting is not None and kind != "arbitrary":
        raise UploadError(400, f"painting= is for arbitrary-style models; this one is {kind}: "
                               + ("pass style=NAME" if kind == "multi" else "drop painting="))


def parse_options(params) -> dict:
    """``strength``, ``preserve_color`` and ``style`` from the query, checked (400 if wrong)."""
    try:
        strength = float(params.get("strength", "1"))
    except ValueError as err:
        raise UploadError(400, "strength must be a number in [0, 1]") from err
    if not 0.0 <= strength <= 1.0:
        raise UploadError(400, "strength must be in [0, 1]")
    color = params.get("preserve_color") or None
    if color not in (None, "luminance", "histogram"):
        raise UploadError(400, "preserve_color must be luminance or histogram")
    style = params.get("style") or None
    if style is not None and style.startswith("{"):
        try:
            style = {str(k): float(v) for k, v in json.loads(style).items()}
        except (ValueError, AttributeError, TypeError) as err:
            raise UploadError(400, "style must be a name or JSON weights {name: weight}") from err
        if not all(math.isfinite(weight) for weight in style.values()):
            raise UploadError(400, "style weights must be finite numbers")
    return {"strength": round(strength, 3), "preserve_color": color, "style": style}


