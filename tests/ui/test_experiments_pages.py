"""The runs table (filter, sort, chart), the N-run matrix and a prompt version's runs, through ASGI."""

from __future__ import annotations

import re

import httpx

from loopstack.store import Store
from loopstack.store.experiments import ExperimentRepository
from loopstack.store.runs import ItemResult, RunRepository, ScoreRow
from ui.helpers import XSS, add_prompt_versions, add_runs


def _ids_in_table(html: str) -> list[str]:
    return re.findall(r'<tr data-run="([0-9a-f]+)">', html)


def test_runs_table_filters_sorts_and_charts(client: httpx.Client, store: Store) -> None:
    a, b = add_runs(store)  # baseline 11/12 exact, candidate 9/12
    ExperimentRepository(store).add_tag(a, "baseline")
    page = client.get("/ui/runs")
    assert page.status_code == 200
    assert _ids_in_table(page.text) == [b, a]  # newest first
    assert "0.917 <small" in page.text and "0.75 <small" in page.text  # exact_match means, with their CIs
    assert 'id="metric-chart"' in page.text and "exact_match across runs" in page.text
    assert page.text.count('class="ci s') >= 2 * 3  # a CI bar (line + two caps) per run
    hi = client.get("/ui/runs", params={"q": "exact_match>0.8"})
    assert _ids_in_table(hi.text) == [a] and "1 match" in hi.text
    assert _ids_in_table(client.get("/ui/runs", params={"q": "tag:baseline"}).text) == [a]
    assert _ids_in_table(client.get("/ui/runs", params={"q": "prompt=triage version>=2"}).text) == [b]
    asc = client.get("/ui/runs", params={"sort": "exact_match", "desc": "0"})
    assert _ids_in_table(asc.text) == [b, a]
    assert "exact_match ▲" in asc.text


def test_a_bad_filter_is_shown_in_place(client: httpx.Client, store: Store) -> None:
    add_runs(store)
    bad = client.get("/ui/runs", params={"q": "exact_match>>1"})
    assert bad.status_code == 400
    assert "at position 13: expected a number for metric" in bad.text
    assert _ids_in_table(bad.text) == [] and 'value="exact_match&gt;&gt;1"' in bad.text
    unknown = client.get("/ui/runs", params={"q": "acc>0.5"})
    assert unknown.status_code == 400 and "no run has a metric" in unknown.text


def test_matrix_of_three_runs_puts_changed_items_first_and_pages(client: httpx.Client, store: Store) -> None:
    a, b = add_runs(store)
    repo = RunRepository(store)
    c = repo.create_run(config={}, name="third", model="mock/c")
    repo.save_items(
        c.id,
        [
            ItemResult(
                item_key=f"item-{i:02d}",
                epoch=0,
                input={"review": "x"},
                output=XSS if i == 5 else ["bug", "praise", "question"][i % 3],
                scores=[ScoreRow(name="exact_match", value=0.0 if i == 5 else 1.0)],
            )
            for i in range(12)
        ],
    )
    repo.set_status(c.id, "completed")
    page = client.get("/ui/matrix", params=[("run", a), ("run", b), ("run", c.id)])
    assert page.status_code == 200
    assert "5 of 12 items differ" in page.text
    keys = re.findall(r'class="item-key">([^<]+)<', page.text)
    assert keys[:5] == ["item-00", "item-03", "item-05", "item-06", "item-11"] and len(keys) == 12
    assert XSS not in page.text and "&lt;script&gt;" in page.text
    changed = client.get("/ui/matrix", params={"run": f"{a},{b},{c.id}", "only": "changed"})
    assert len(re.findall(r'class="item-key"', changed.text)) == 5
    assert client.get("/ui/matrix", params={"run": a}).status_code == 400
    assert client.get("/ui/matrix", params=[("run", a), ("run", "nosuchrun")]).status_code == 404


def test_prompt_version_page_lists_the_runs_that_evaluated_it(client: httpx.Client, store: Store) -> None:
    add_prompt_versions(store)
    a, b = add_runs(store)
    page = client.get("/ui/prompts/triage/versions/2")
    assert page.status_code == 200
    assert f"/ui/runs/{b}" in page.text and f"/ui/runs/{a}" not in page.text
    assert "prompt%3Dtriage%20version%3D2" in page.text
    assert 'id="runs-v2"' in client.get("/ui/prompts/triage").text
    assert "No run has evaluated" in client.get("/ui/prompts/triage/versions/3").text
