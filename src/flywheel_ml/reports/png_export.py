"""PNG files of plotly figures, rendered offline by a headless Chrome/Chromium (kaleido 1.x).

kaleido drives a browser it finds on the machine (``BROWSER_PATH``, else Chrome or Debian's
``/usr/bin/chromium`` on the ``PATH``); the page it renders loads plotly.js from the installed
``plotly`` package and no MathJax, so nothing is fetched from the network. One browser start
(~2-4 s) serves every figure of a call, so pass all the figures of a report at once.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from flywheel_ml.errors import InvalidInputError

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_HINT = (
    "write .html instead (interactive, works offline); PNG needs the kaleido package "
    "(pip install 'flywheel-ml[ml]') and a Chrome/Chromium (Debian: apt-get install chromium, "
    "or set BROWSER_PATH)"
)


def write_pngs(
    figures: Mapping[Path, Any], *, width: int = 960, height: int = 600
) -> dict[Path, Path]:
    """Render each plotly figure to its PNG path (``width`` x ``height`` pixels).

    Every file is written under a temporary name and renamed, so a failed export leaves no
    half-written image (earlier ones of the same call stay).

    Raises:
        InvalidInputError: kaleido or a browser is missing, or the browser failed to render.
    """
    if not figures:
        return {}
    try:
        import kaleido  # type: ignore[import-untyped]  # noqa: F401
    except ImportError as exc:
        raise InvalidInputError(
            "cannot write PNG here: kaleido is not installed", hint=_HINT
        ) from exc
    specs = [figure.to_dict() for figure in figures.values()]
    opts = {"format": "png", "width": width, "height": height}
    # A thread of its own: asyncio.run() refuses to start inside a running event loop (the
    # server, a notebook), and kaleido's own sync helpers keep a process-wide server.
    with ThreadPoolExecutor(max_workers=1) as pool:
        try:
            images = pool.submit(asyncio.run, _render(specs, opts)).result()
        except Exception as exc:
            # kaleido/choreographer raise many kinds (no browser, browser died, render timed
            # out); all of them mean "no PNG export here" to the user.
            reason = next((ln for ln in str(exc).splitlines() if ln.strip()), type(exc).__name__)
            raise InvalidInputError(f"cannot write PNG here: {reason[:200]}", hint=_HINT) from exc
    written = {}
    for out, image in zip(figures, images, strict=True):
        out.parent.mkdir(parents=True, exist_ok=True)
        partial = out.with_name(f".{out.name}.partial")
        partial.write_bytes(image)
        os.replace(partial, out)
        written[out] = out
    return written


async def _render(specs: list[dict[str, Any]], opts: dict[str, Any]) -> list[bytes]:
    import kaleido

    async with kaleido.Kaleido(n=1, mathjax=False) as browser:
        return [bytes(await browser.calc_fig(spec, opts=opts)) for spec in specs]
