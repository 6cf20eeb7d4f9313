"""Settings come from ``LOOPSTACK_*`` variables (any case), keyword arguments win, a bad value is one line."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from loopstack.cli.main import cli
from loopstack.config import Settings
from loopstack.errors import ConfigError


def test_environment_variables_set_fields_and_keyword_arguments_win(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("LOOPSTACK_PROJECT", "acme")
    monkeypatch.setenv("loopstack_smtp_port", "2525")  # the name in any case, as before
    monkeypatch.setenv("LOOPSTACK_ALLOWED_HOSTS", "a.test, b.test")
    monkeypatch.setenv("LOOPSTACK_MONITOR", "false")
    monkeypatch.setenv("LOOPSTACK_HOME", str(tmp_path))
    s = Settings()
    assert (s.project, s.smtp_port, s.allowed_hosts, s.monitor) == ("acme", 2525, ["a.test", "b.test"], False)
    assert s.resolved_database_url == f"sqlite:///{tmp_path / 'loopstack.db'}"
    assert Settings(project="other").project == "other"


def test_a_malformed_variable_is_one_line_naming_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOOPSTACK_SMTP_PORT", "twenty-five")
    with pytest.raises(
        ConfigError, match=r"^LOOPSTACK_SMTP_PORT='twenty-five': Input should be a valid integer"
    ):
        Settings()
    from loopstack.config import get_settings

    get_settings.cache_clear()
    result = CliRunner().invoke(cli, ["eval", "list"])
    assert result.exit_code != 0
    assert "LOOPSTACK_SMTP_PORT='twenty-five'" in str(result.exception or result.output)
    assert "Traceback" not in result.output
