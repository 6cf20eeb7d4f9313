"""Who is pushing: ``git config user.name``, else the login name."""

from __future__ import annotations

import getpass
import os
import subprocess


def default_author() -> str | None:
    """The git user name when git knows one, else ``$USER``, else the login name."""
    try:
        out = subprocess.run(
            ["git", "config", "user.name"], capture_output=True, text=True, timeout=2, check=False
        )
        name = out.stdout.strip()
        if out.returncode == 0 and name:
            return name
    except (OSError, subprocess.SubprocessError):
        pass
    user = os.environ.get("USER")
    if user:
        return user
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no login name on this system
        return None
