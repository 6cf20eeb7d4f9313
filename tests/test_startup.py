"""Start-up stays light: the store, ``--version`` and ``--help`` load only what they use.

Each check runs in a fresh interpreter and reads ``sys.modules`` there, so nothing this test
session already imported can hide (or fake) a heavy import. Timings live in ``bench/startup.py``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from loopstack.store import Store
from loopstack.store.migrate import current_revision, head_revision

#: modules no light entry point may load (prefix match: the package and everything under it)
HEAVY = ("opentelemetry.sdk", "loopstack.evals.scorers", "alembic", "torch")

# Runs ``code`` and then prints the names of every loaded module as JSON on the last line.
_PROBE = """
import json, sys
try:
{code}
finally:
    sys.stdout.write("\\n" + json.dumps(sorted(sys.modules)) + "\\n")
"""


def _run(code: str) -> tuple[str, set[str]]:
    """Run ``code`` in a fresh interpreter; its output (less the probe line) and its loaded modules."""
    body = "\n".join("    " + line for line in code.strip().splitlines())
    proc = subprocess.run(
        [sys.executable, "-c", _PROBE.format(code=body)],
        capture_output=True,
        text=True,
        env=os.environ.copy(),
        timeout=120,
        check=False,
    )
    out, _, last = proc.stdout.rstrip("\n").rpartition("\n")
    assert proc.returncode == 0, proc.stderr
    return out, set(json.loads(last))


def _heavy(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if any(m == h or m.startswith(h + ".") for h in HEAVY))


def test_import_store_loads_no_tracing_sdk_scorers_alembic_or_torch() -> None:
    _, modules = _run("import loopstack.store")
    assert "loopstack.store" in modules
    assert _heavy(modules) == []


def test_import_loopstack_resolves_names_on_first_use() -> None:
    out, modules = _run(
        "import loopstack\n"
        "print(loopstack.__version__, 'opentelemetry.sdk' in sys.modules)\n"
        "print(callable(loopstack.observe), 'opentelemetry.sdk' in sys.modules)"
    )
    assert out.splitlines()[-2:] == ["0.1.0 False", "True True"]
    assert "loopstack.tracing" in modules


def test_feedback_alone_does_not_load_the_tracing_sdk() -> None:
    out, modules = _run("from loopstack import feedback\nprint(feedback.__module__)")
    assert out.splitlines()[-1] == "loopstack.tracing._feedback"
    assert "opentelemetry.sdk" not in modules


def test_every_public_name_of_the_facade_resolves() -> None:
    import loopstack

    for name in loopstack.__all__:
        assert getattr(loopstack, name) is not None, name
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        _ = loopstack.nope  # type: ignore[attr-defined]


def test_evals_submodules_load_neither_the_store_nor_the_scorers() -> None:
    _, modules = _run("import loopstack.evals.stats\nimport loopstack.evals.report")
    assert "loopstack.evals.stats" in modules
    assert _heavy(modules) == []
    assert "sqlalchemy" not in modules and "jinja2" not in modules


def test_version_prints_the_version_and_loads_nothing_heavy() -> None:
    out, modules = _run("from loopstack.cli.main import main\nprint('exit', main(['--version']))")
    assert "loopstack, version 0.1.0" in out
    assert _heavy(modules) == []
    assert not any(m.startswith("loopstack.cli.") and m != "loopstack.cli.main" for m in modules)


def test_help_lists_every_command_without_importing_them() -> None:
    from loopstack.cli.main import COMMANDS

    out, modules = _run("from loopstack.cli.main import main\nmain(['--help'])")
    for name, (_module, _attr, short_help) in COMMANDS.items():
        assert f"{name}  " in out and short_help in out, name
    assert _heavy(modules) == []
    assert not any(m.startswith("loopstack.cli.") and m != "loopstack.cli.main" for m in modules)


def test_opening_a_current_store_does_not_import_alembic(database_url: str) -> None:
    Store(database_url).close()  # migrated here, in this process
    out, modules = _run(
        "from loopstack.store import Store\n"
        f"store = Store({database_url!r})\n"
        "print('project', store.project_id('acme'))"
    )
    assert "project " in out
    assert "alembic" not in modules


def test_an_out_of_date_store_is_still_upgraded(tmp_path: Path) -> None:
    from loopstack.store.migrate import upgrade

    url = f"sqlite:///{tmp_path / 'old.db'}"
    old = Store(url, migrate=False)
    upgrade(old, "0001")
    assert current_revision(old) == "0001"
    old.close()
    store = Store(url)  # migrates on open
    assert current_revision(store) == head_revision()
    store.project_id("acme")  # tables usable
    store.close()


def test_head_revision_read_from_the_files_matches_alembic() -> None:
    from alembic.script import ScriptDirectory

    from loopstack.store.migrate import alembic_config

    assert head_revision() == ScriptDirectory.from_config(alembic_config()).get_current_head()


def test_current_revision_matches_alembic(database_url: str, tmp_path: Path) -> None:
    from alembic.runtime.migration import MigrationContext

    store = Store(database_url)
    with store.read() as conn:
        expected = MigrationContext.configure(conn).get_current_revision()
    assert current_revision(store) == expected == head_revision()
    store.close()
    empty = Store(f"sqlite:///{tmp_path / 'empty.db'}", migrate=False)
    assert current_revision(empty) is None
    empty.close()


def test_head_from_files_defers_to_alembic_unless_there_is_one_plain_head(tmp_path: Path) -> None:
    from loopstack.store.migrate import _head_from_files

    def write(name: str, body: str) -> None:
        (tmp_path / f"{name}.py").write_text(f'"""{name}"""\n{body}\n', encoding="utf-8")

    write("a", 'revision = "a"\ndown_revision = None')
    write("b", 'revision: str = "b"\ndown_revision: str | None = "a"')
    assert _head_from_files(tmp_path) == "b"
    write("c", 'revision = "c"\ndown_revision = "a"')  # a second head
    assert _head_from_files(tmp_path) is None
    write("c", 'revision = "c"\ndown_revision = ("a", "b")')  # a merge
    assert _head_from_files(tmp_path) is None
    write("c", 'revision = make_id()\ndown_revision = "b"')  # computed
    assert _head_from_files(tmp_path) is None


def test_a_pass_fail_eval_loads_neither_numpy_nor_the_postgresql_dialect_nor_unasked_reports(
    tmp_path: Path,
) -> None:
    """A 1-item exact-match eval on SQLite needs the Wilson interval and the terminal table: numpy,
    scipy, the PostgreSQL dialect and the HTML/JSON/JUnit reporters load only when they are used."""
    (tmp_path / "one.jsonl").write_text('{"text": "hi", "expected": "hi"}\n', encoding="utf-8")
    (tmp_path / "suite.yaml").write_text(
        "name: startup\ndataset: one.jsonl\n"
        "prompts:\n  - name: echo\n    messages: [{role: user, content: '{{ text }}'}]\n"
        "models: [mock/echo]\nscorers:\n  - scorer: exact_match\n    name: accuracy\n",
        encoding="utf-8",
    )
    suite = str(tmp_path / "suite.yaml")
    from loopstack.store import get_store

    get_store()  # the home's store, migrated here: the probe opens a current one, as a second run does
    out, modules = _run(f"from loopstack.cli.main import main\nmain(['eval', {suite!r}])")
    assert "✓ passed" in out and "accuracy" in out
    for heavy in ("numpy", "scipy", "sqlalchemy.dialects.postgresql", "loopstack.evals.report.html"):
        assert heavy not in modules, heavy
    assert "loopstack.evals.report.json" not in modules and "loopstack.evals.report.junit" not in modules


def test_a_cli_command_skips_pydantics_plugin_scan_unless_asked_for_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Looking for pydantic plugins scans every installed distribution's entry points on the first
    model a command builds; the CLI uses none, so it skips the scan, and an explicit
    ``PYDANTIC_DISABLE_PLUGINS`` (empty: load them) is left to the user."""
    code = (
        "from loopstack.cli.main import main\n"
        "try:\n    main(['models'])\nexcept SystemExit:\n    pass\n"
        "import gc, pydantic.plugin._loader as loader\n"
        "print('scanned', loader._plugins is not None, 'young', gc.get_threshold()[0])"
    )
    monkeypatch.delenv("PYDANTIC_DISABLE_PLUGINS", raising=False)
    out, _ = _run(code)
    assert out.splitlines()[-1] == "scanned False young 10000"
    monkeypatch.setenv("PYDANTIC_DISABLE_PLUGINS", "")
    out, _ = _run(code)
    assert out.splitlines()[-1].startswith("scanned True")
