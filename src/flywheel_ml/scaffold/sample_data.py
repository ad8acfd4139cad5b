"""The small data each project template starts with, made here (no download, no hub).

* ``classification``: scikit-learn's breast-cancer table (569 rows, 30 numeric features).
* ``text``: 600 short product reviews, positive or negative, made from word lists with a fixed
  seed (scikit-learn bundles no text corpus; the point is a project that trains, not a benchmark).
* ``image``: scikit-learn's 1,797 handwritten digits as 8x8 greyscale PNG files under
  ``data/images/<label>/``, and the table of their pixels (``data/digits.csv``) that training uses.

A file that already exists is kept as it is: the user's data is never overwritten.
"""

from __future__ import annotations

import csv
import random
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class SampleData:
    """What a template trains on.

    Attributes:
        dataset: the dataset name the file is added as.
        table: the table file (relative to the project root) that training reads.
        files: every data file the template writes (relative paths), the table included.
    """

    dataset: str
    table: str
    files: tuple[str, ...]


_GOOD = ("great", "excellent", "sturdy", "lovely", "fast", "reliable", "comfortable", "bright")
_BAD = ("broken", "awful", "flimsy", "slow", "noisy", "useless", "cheap", "faulty")
_THINGS = ("kettle", "lamp", "chair", "phone case", "backpack", "blender", "headset", "desk")
_PHRASES = (
    "the {thing} is {word}",
    "{word} {thing}, would say it again",
    "after a week the {thing} feels {word}",
    "my {thing} arrived and it is {word} and {word2}",
)


def write_sample_data(root: Path, template: str) -> tuple[SampleData, list[str], list[str]]:
    """Write ``template``'s data under ``root/data``.

    Returns:
        ``(sample, written, kept)``: what the data is, and the files written and kept (present
        already), as paths relative to ``root``.
    """
    data = root / "data"
    data.mkdir(parents=True, exist_ok=True)
    if template == "text":
        sample = SampleData("reviews", "data/reviews.csv", ("data/reviews.csv",))
        rows = _reviews()
    elif template == "image":
        return _write_digit_images(root)
    else:
        sample = SampleData("tabular", "data/tabular.csv", ("data/tabular.csv",))
        rows = _tumours()
    if (root / sample.table).exists():
        return sample, [], [sample.table]
    _write_csv(root / sample.table, rows)
    return sample, [sample.table], []


def _write_csv(path: Path, rows: list[list[object]]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(rows)
    tmp.replace(path)  # a reader never sees half a table


def _tumours() -> list[list[object]]:
    from sklearn.datasets import load_breast_cancer

    bunch = load_breast_cancer()
    names = [str(n).replace(" ", "_") for n in bunch.feature_names]
    rows: list[list[object]] = [["id", *names, "label"]]
    for i, (x, y) in enumerate(zip(bunch.data, bunch.target, strict=True)):
        rows.append([f"t{i:04d}", *(float(v) for v in x), str(bunch.target_names[y])])
    return rows


def _reviews(count: int = 600, seed: int = 7) -> list[list[object]]:
    rng = random.Random(seed)
    rows: list[list[object]] = [["id", "text", "label"]]
    for i in range(count):
        label = "positive" if i % 2 == 0 else "negative"
        words = _GOOD if label == "positive" else _BAD
        text = rng.choice(_PHRASES).format(
            thing=rng.choice(_THINGS), word=rng.choice(words), word2=rng.choice(words)
        )
        rows.append([f"r{i:04d}", text, label])
    return rows


def _write_digit_images(root: Path) -> tuple[SampleData, list[str], list[str]]:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    table = "data/digits.csv"
    written: list[str] = []
    kept: list[str] = []
    rows: list[list[object]] = [["id", *(f"p{i}" for i in range(64)), "label"]]
    for i, (image, label) in enumerate(zip(bunch.images, bunch.target, strict=True)):
        relative = f"{label}/{i:04d}.png"
        path = root / "data" / "images" / relative
        # 0..16 grey levels, stretched to 0..255 so the files look like pictures.
        pixels = [round(float(v) * 255 / 16) for v in image.ravel()]
        if path.exists():
            kept.append(f"data/images/{relative}")
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(png_bytes(pixels, width=8, height=8))
            written.append(f"data/images/{relative}")
        rows.append([relative, *pixels, str(label)])
    rows[1:] = sorted(rows[1:], key=lambda row: str(row[0]))  # the order a folder listing has
    if (root / table).exists():
        kept.append(table)
    else:
        _write_csv(root / table, rows)
        written.append(table)
    files = (table, *(f"data/images/{r[0]}" for r in rows[1:]))
    return SampleData("digits", table, files), written, kept


def png_bytes(pixels: list[int], *, width: int, height: int) -> bytes:
    """An 8-bit greyscale PNG of ``pixels`` (row by row, 0..255), with no imaging library."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body) & 0xFFFFFFFF
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    raw = b"".join(
        b"\x00" + bytes(pixels[row * width : (row + 1) * width]) for row in range(height)
    )
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw, 9))
        + chunk(b"IEND", b"")
    )
