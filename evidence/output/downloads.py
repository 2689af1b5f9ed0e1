"""Content-Disposition for downloads whose names carry values from the query string."""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import quote

from werkzeug.wrappers import Response

# Control characters (CR, LF, NUL ...), quotes, backslashes and path separators never reach
# a header or a saved file name; runs of them become one hyphen.
_UNSAFE = re.compile(r'[\x00-\x1f\x7f"\\/;]+')


def attach(response: Response, filename: str) -> Response:
    """Mark the response as a download named ``filename``, safe for any text in it.

    ASCII names go as ``filename="..."``; others get an ASCII fallback plus RFC 5987's
    ``filename*`` (UTF-8), as Werkzeug's send_file writes them, so a non-Latin-1 name is kept
    for browsers that read it instead of raising while the header is encoded.
    """
    name = _UNSAFE.sub("-", filename).strip() or "download"
    try:
        name.encode("ascii")
        value = f'attachment; filename="{name}"'
    except UnicodeEncodeError:
        simple = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
        quoted = quote(name, safe="!#$&+-.^_`|~")
        value = f"attachment; filename=\"{simple or 'download'}\"; filename*=UTF-8''{quoted}"
    response.headers["Content-Disposition"] = value
    return response
