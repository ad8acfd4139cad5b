"""Build hook: compile the C fast path of folder adds into the wheel, when it can be compiled.

``src/flywheel_ml/data/_folderio.c`` scans folders and reads small files 2-3x faster than the
Python code, which stays the reference and the fallback: without a C compiler (or off Linux)
the build goes on as pure Python and every feature works, only slower. An editable install
compiles the module beside its source, where the editable package is imported from.
"""

from __future__ import annotations

import shlex
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

SOURCE = Path("src/flywheel_ml/data/_folderio.c")


def _compile(source: Path, target: Path) -> None:
    """Compile and link ``source`` into the extension module ``target`` as Python itself would."""
    config = sysconfig.get_config_vars()
    include = sysconfig.get_paths()["include"]
    cc = shlex.split(str(config.get("CC") or "cc"))
    cflags = shlex.split(str(config.get("CFLAGS") or "")) + shlex.split(
        str(config.get("CCSHARED") or "-fPIC")
    )
    ldshared = shlex.split(str(config.get("LDSHARED") or "cc -shared"))
    with tempfile.TemporaryDirectory() as scratch:
        obj = Path(scratch, "_folderio.o")
        subprocess.run(
            [*cc, *cflags, "-O2", "-std=gnu11", f"-I{include}", "-c", str(source), "-o", str(obj)],
            check=True,
            capture_output=True,
            text=True,
        )
        target.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [*ldshared, str(obj), "-o", str(target), "-lpthread"],
            check=True,
            capture_output=True,
            text=True,
        )


class FolderIOBuildHook(BuildHookInterface):
    """Adds the compiled ``flywheel_ml.data._folderio`` to wheels built on Linux."""

    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if self.target_name != "wheel" or not sys.platform.startswith("linux"):
            return
        source = Path(self.root, SOURCE)
        name = "_folderio" + str(sysconfig.get_config_var("EXT_SUFFIX"))
        if version == "editable":
            target = source.with_name(name)
        else:
            target = Path(self.directory, ".native", name)
        target.unlink(missing_ok=True)  # never leave a stale build of older source behind
        try:
            _compile(source, target)
        except (OSError, subprocess.CalledProcessError) as exc:
            detail = getattr(exc, "stderr", "") or str(exc)
            self.app.display_warning(
                f"flywheel-ml: the C fast path was not built ({detail.strip()[:500]}); "
                "folder adds use the slower pure-Python code"
            )
            return
        build_data["pure_python"] = False
        build_data["infer_tag"] = True
        if version != "editable":
            build_data["force_include"][str(target)] = f"flywheel_ml/data/{name}"

    def finalize(self, version: str, build_data: dict[str, Any], artifact_path: str) -> None:
        scratch = Path(self.directory, ".native")
        for built in scratch.glob("_folderio*"):
            built.unlink()
        if scratch.is_dir():
            scratch.rmdir()
