"""Run the real `mlform` CLI in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest


@dataclass
class Result:
    code: int
    out: str
    err: str


class Cli:
    def __init__(self, cwd: Path) -> None:
        self.cwd = cwd

    def write(self, text: str, name: str = "mlform.yaml") -> Path:
        path = self.cwd / name
        path.write_text(text)
        return path

    def run(self, *args: str, input: str | None = None, env: dict[str, str] | None = None,
            timeout: float = 120) -> Result:
        proc = subprocess.run(
            [sys.executable, "-m", "mlform", *args], cwd=self.cwd, input=input,
            capture_output=True, text=True, timeout=timeout, check=False,
            env={**os.environ, **(env or {})},
        )
        return Result(proc.returncode, proc.stdout, proc.stderr)

    def popen(self, *args: str, **kw: Any) -> subprocess.Popen[str]:
        return subprocess.Popen([sys.executable, "-m", "mlform", *args], cwd=self.cwd,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return Cli(tmp_path)
