"""Small tables and folders for the data stage's tests."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest


def reviews_frame(n: int = 200, *, start: int = 0) -> pd.DataFrame:
    """A deterministic review table: id, text, hour, stars, sentiment label."""
    ids = range(start, start + n)
    return pd.DataFrame(
        {
            "review_id": [f"r{i:05d}" for i in ids],
            "text": [f"review number {i} " + "good " * (i % 5) for i in ids],
            "hour": [i % 24 for i in ids],
            "stars": [1 + i % 5 for i in ids],
            "sentiment": ["pos" if i % 3 else "neg" for i in ids],
        }
    )


@pytest.fixture
def reviews_csv(tmp_path: Path) -> Path:
    path = tmp_path / "reviews.csv"
    reviews_frame().to_csv(path, index=False)
    return path


@pytest.fixture
def pets_folder(tmp_path: Path) -> Path:
    """A folder of 30 small files labelled by their parent folder."""
    root = tmp_path / "pets"
    for i in range(30):
        label = ("cat", "dog", "bird")[i % 3]
        (root / label).mkdir(parents=True, exist_ok=True)
        (root / label / f"{i:03d}.txt").write_bytes(f"{label} picture {i}\n".encode() * (i + 1))
    return root
