"""Who a push is attributed to when no --author is given."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from loopstack.prompts import default_author


def test_git_user_name_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tmp_path / "gitconfig"
    subprocess.run(["git", "config", "--file", str(cfg), "user.name", "Ana Lima"], check=True)
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(cfg))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("USER", "someone-else")
    assert default_author() == "Ana Lima"


def test_without_git_falls_back_to_user(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "")  # no git executable
    monkeypatch.setenv("USER", "zoe")
    assert default_author() == "zoe"
