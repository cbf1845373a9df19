"""One handler per kind of file, registered by media type.

A handler is a callable ``(path, media_type) -> dict`` that reads the file at ``path`` (and
nothing else) and returns JSON-ready technical metadata: dimensions, encodings, page counts,
camera details. Handlers must stay cheap on huge files: they read at most a few MiB.

:func:`extract_technical` is the one entry point; it never raises. A handler's failure on a
damaged or hostile file is itself evidence and is returned as ``{"error": "<plain sentence>"}``.
Libraries (Pillow, pypdf) are imported inside the handlers, so importing this package is cheap.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeAlias

Handler: TypeAlias = Callable[[Path, str], dict[str, Any]]

_log = logging.getLogger(__name__)
_EXACT: dict[str, Handler] = {}
_PREFIXES: dict[str, Handler] = {}


def register(media_type_or_prefix: str, handler: Handler) -> None:
    """Use ``handler`` for a media type (``application/pdf``) or a prefix ending in ``/``
    (``image/``). An exact type wins over a prefix; a later registration replaces an earlier."""
    key = media_type_or_prefix.lower()
    (_PREFIXES if key.endswith("/") else _EXACT)[key] = handler


def handler_for(media_type: str) -> Handler | None:
    """The handler registered for ``media_type``, or None."""
    key = media_type.lower().split(";", 1)[0].strip()
    if key in _EXACT:
        return _EXACT[key]
    prefixes = [p for p in _PREFIXES if key.startswith(p)]
    return _PREFIXES[max(prefixes, key=len)] if prefixes else None


def _json_ready(value: Any, depth: int = 0) -> Any:
    """A handler's result as plain JSON values; anything else becomes its text."""
    if depth > 10:
        return str(value)
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, Mapping):
        return {str(k): _json_ready(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_ready(v, depth + 1) for v in value]
    return str(value)


def extract_technical(path: Path, media_type: str) -> dict[str, Any]:
    """Technical metadata of the file at ``path``; ``{}`` if no handler knows the type.

    Never raises: a failure becomes ``{"error": "<plain sentence>"}``.
    """
    handler = handler_for(media_type)
    if handler is None:
        return {}
    try:
        result = handler(path, media_type)
    except MemoryError:
        return {"error": "the file could not be examined: it needs more memory than there is"}
    except Exception as e:
        # A handler bug or a library's surprise on a hostile file must not stop an ingest.
        _log.debug("handler for %s failed on %s", media_type, path, exc_info=True)
        return {"error": f"the file could not be examined ({type(e).__name__}: {e})"}
    return dict(_json_ready(result)) if isinstance(result, Mapping) else {}


def _register_builtin() -> None:
    from artefacts.extractors import av
    from artefacts.handlers import image, pdf, text

    register("audio/", av.av_technical)
    register("video/", av.av_technical)
    register("text/", text.text_technical)
    for structured_text in ("application/yaml", "application/json", "application/xml"):
        register(structured_text, text.text_technical)
    register("image/", image.image_technical)
    register("application/pdf", pdf.pdf_technical)


_register_builtin()
