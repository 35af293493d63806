"""The demo's web app: one static page, a JSON API over a model folder, ONNX for the browser.

Routes:
    GET  /                         the page (static/index.html, app.js, style.css under /static)
    GET  /api/config               limits, and whether the in-browser runtime is available
    GET  /api/models               the folder's models with their kinds and style names
    POST /api/stylize?model=NAME   body: the photo's bytes; options ``strength``,
                                   ``preserve_color``, ``style`` (a name or JSON weights),
                                   ``painting`` (an id from /api/paintings, for arbitrary-style
                                   models), ``format`` (png or jpeg); answers the stylized image
    GET  /api/paintings            the paintings of the ``paintings`` folder, by name
    GET  /api/painting?name=NAME   one of them (the page shows it, then uploads it)
    POST /api/paintings            body: a painting's bytes; answers ``{"painting": id}``
    GET  /api/onnx?model=NAME      the model as ONNX, for onnxruntime-web (``part=style``: the
                                   predictor of a split style-prediction export)
    GET  /api/thumbnail?model=NAME a small scene stylized by a catalogue model (PNG)
    GET  /ort/FILE                 the local onnxruntime-web copy (a fixed list of files)

Every error is JSON ``{"error": "one line"}`` with a 4xx/5xx status; the server keeps running.
What a request may send (types, sizes, times) is checked by :mod:`fastnst.demo.limits`, below
the app by :mod:`fastnst.demo.listener`; docs/serving.md lists the limits and status codes.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from importlib.resources import files
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from fastnst.demo.catalog import ModelCatalog, UnknownModel
from fastnst.demo.limits import (
    check_applicable,
    check_content_type,
    closing,
    header_bytes,
    parse_options,
    read_limited,
)
from fastnst.demo.ortweb import ORT_WEB_FILES, ort_web_dir, ort_web_ready
from fastnst.demo.paintings import PaintingStore, UnknownPainting
from fastnst.demo.slots import Busy, InferenceSlots
from fastnst.demo.uploads import (
    DEFAULT_MAX_BYTES,
    DEFAULT_MAX_PIXELS,
    UploadError,
    decode_image,
    encode_image,
)
from fastnst.errors import FastNSTError
from fastnst.version import __version__

STATIC = Path(str(files("fastnst.demo") / "static"))
MEDIA_TYPES = {".js": "text/javascript", ".mjs": "text/javascript", ".wasm": "application/wasm"}
# Cross-origin isolation lets onnxruntime-web use several WebAssembly threads.
ISOLATION = {
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Embedder-Policy": "require-corp",
    "X-Content-Type-Options": "nosniff",
}


@dataclass
class DemoSettings:
    """The server's limits and folders.

    Attributes:
        models: Folder of checkpoints and ONNX files.
        max_bytes: Largest upload in bytes.
        max_pixels: Largest upload in pixels (checked before decoding).
        max_size: Cap on the long side of a stylized image, px.
        workers: Inferences at once. queue: Requests that may wait; more get 503.
        ort_web: Folder of the onnxruntime-web copy (default ``$FASTNST_CACHE/ort-web``).
        backend: ``"auto"`` or ``"torch"``, see :class:`~fastnst.demo.catalog.ModelCatalog`.
        paintings: Folder of paintings offered for arbitrary-style models (or None).
        style_size: Short side a painting is encoded at, px (the page resizes alike).
        body_timeout: Seconds an upload's body may take to arrive; slower ones get 408.
        header_timeout: Seconds a request's line and headers may take (408, disconnected).
        max_header_bytes: Largest request line plus headers (uvicorn answers 400 beyond).
        max_connections: Open connections at once; uvicorn answers 503 beyond.
    """

    models: Path
    max_bytes: int = DEFAULT_MAX_BYTES
    max_pixels: int = DEFAULT_MAX_PIXELS
    max_size: int = 1536
    workers: int = 1
    queue: int = 8
    ort_web: Path | None = None
    backend: str = "auto"
    paintings: Path | None = None
    style_size: int = 512
    body_timeout: float = 30.0
    header_timeout: float = 10.0
    max_header_bytes: int = 16 * 2**10
    max_connections: int = 256


def error(status: int, message: str, **headers: str) -> JSONResponse:
    """A one-line JSON error."""
    return JSONResponse({"error": message}, status_code=status, headers=headers)


def create_app(settings: DemoSettings, catalog: ModelCatalog | None = None) -> Starlette:
    """The Starlette app for ``settings`` (the catalog and the slots are in ``app.state``);
    ``catalog``: another model source than ``settings.models`` (``fastnst demo`` without a
    folder: :class:`~fastnst.demo.pretrained.PretrainedCatalog`, with thumbnails)."""
    if catalog is None:
        catalog = ModelCatalog(
            settings.models, max_size=settings.max_size, backend=settings.backend,
            style_size=settings.style_size,
        )  # fmt: skip
    paintings = PaintingStore(settings.paintings, settings.style_size)
    slots = InferenceSlots(settings.workers, settings.queue)
    ort_dir = settings.ort_web or ort_web_dir()

    async def page(request: Request) -> Response:
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})

    async def config(request: Request) -> Response:
        limits = asdict(settings) | {"models": settings.models.name}
        limits.pop("ort_web"), limits.pop("paintings")
        return JSONResponse({
            **limits, "version": __version__, "ort_web_ready": ort_web_ready(ort_dir),
            "ort_web_hint": "in-browser mode needs a local onnxruntime-web: run "
                            "'fastnst demo --fetch-ort-web' and reload",
            "catalogue": await slots.run(getattr(catalog, "entries", dict)),
        })  # fmt: skip

    async def models(request: Request) -> Response:
        infos = await slots.run(catalog.list)
        return JSONResponse({"models": [asdict(info) for info in infos]})

    async def stylize(request: Request) -> Response:
        name, params = request.query_params.get("model", ""), request.query_params
        check_content_type(request.headers.get("content-type", ""))
        data = await read_limited(request, settings.max_bytes, settings.body_timeout)
        options = parse_options(params)
        fmt = "jpeg" if params.get("format") == "jpeg" else "png"
        painting_id = params.get("painting") or None

        def work() -> tuple[bytes, str]:  # decoded in the worker: queued uploads stay small
            check_applicable(catalog.describe(name).kind, options["style"], painting_id)
            image = decode_image(data, settings.max_pixels)
            painting = None if painting_id is None else (painting_id, paintings.get(painting_id))
            return encode_image(catalog.stylizer(name, **options, painting=painting)(image), fmt)

        body, media_type = await slots.run(work)
        return Response(body, media_type=media_type, headers={"Cache-Control": "no-store"})

    async def onnx(request: Request) -> Response:
        params = request.query_params
        path = await slots.run(
            catalog.onnx_path, params.get("model", ""), params.get("part", "model")
        )
        return FileResponse(path, media_type="application/octet-stream")

    async def thumbnail(request: Request) -> Response:
        if not hasattr(catalog, "thumbnail"):
            return error(404, "thumbnails are made for the catalogue's models (fastnst demo)")
        body = await slots.run(catalog.thumbnail, request.query_params.get("model", ""))
        return Response(body, media_type="image/png", headers={"Cache-Control": "max-age=600"})

    async def painting_list(request: Request) -> Response:
        return JSONResponse({"paintings": paintings.names()})

    async def painting_file(request: Request) -> Response:
        return FileResponse(paintings.path(request.query_params.get("name", "")))

    async def painting_upload(request: Request) -> Response:
        check_content_type(request.headers.get("content-type", ""))
        data = await read_limited(request, settings.max_bytes, settings.body_timeout)
        key = await slots.run(paintings.add, data, settings.max_pixels)
        return JSONResponse({"painting": key})

    async def ort(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in ORT_WEB_FILES or not (ort_dir / name).is_file():
            return error(404, f"{name} is not in the local onnxruntime-web copy")
        media_type = MEDIA_TYPES.get(Path(name).suffix, "application/octet-stream")
        return FileResponse(ort_dir / name, media_type=media_type)

    routes = [
        Route("/", page), Route("/api/config", config), Route("/api/models", models),
        Route("/api/stylize", stylize, methods=["POST"]), Route("/api/onnx", onnx),
        Route("/api/thumbnail", thumbnail),
        Route("/api/paintings", painting_list), Route("/api/painting", painting_file),
        Route("/api/paintings", painting_upload, methods=["POST"]),
        Route("/ort/{name}", ort), Mount("/static", StaticFiles(directory=STATIC)),
    ]  # fmt: skip
    handlers = {
        UploadError: lambda request, err: error(err.status, str(err), **closing(err.status)),
        Busy: lambda r, err: error(503, str(err), **{"Retry-After": str(err.retry_after)}),
        UnknownModel: lambda request, err: error(404, str(err)),
        UnknownPainting: lambda request, err: error(404, str(err)),
        FastNSTError: lambda request, err: error(422, scrub(str(err), settings.models)),
        Exception: lambda request, err: error(500, f"{type(err).__name__}: {err}"[:300]),
    }
    app = Starlette(routes=routes, exception_handlers=handlers)
    app.state.catalog, app.state.slots = catalog, slots
    return IsolationHeaders(app, settings.max_header_bytes)


def scrub(message: str, folder: Path) -> str:
    """The first line of ``message`` without the server's model folder in file names."""
    lines = message.splitlines() or [""]
    return lines[0].replace(f"{Path(folder).expanduser()}{os.sep}", "")


class IsolationHeaders:
    """ASGI wrapper adding :data:`ISOLATION` headers to every response, and answering 431 to a
    request whose target and headers pass ``max_header_bytes`` (uvicorn's h11 bounds only a
    header block that arrives in pieces); ``.state`` is the app's."""

    def __init__(self, app: Starlette, max_header_bytes: int = 16 * 2**10) -> None:
        self.app, self.state, self.max_header_bytes = app, app.state, max_header_bytes

    async def __call__(self, scope, receive, send) -> None:
        async def send_with_headers(message) -> None:
            if message["type"] == "http.response.start":
                extra = [(k.lower().encode(), v.encode()) for k, v in ISOLATION.items()]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        if scope["type"] == "http" and header_bytes(scope) > self.max_header_bytes:
            message = f"the request's headers pass {self.max_header_bytes} bytes; send fewer"
            response = error(431, message, Connection="close")
            await response(scope, receive, send_with_headers)
            return
        await self.app(scope, receive, send_with_headers)
