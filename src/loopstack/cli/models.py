"""``loopstack models``: providers, known model strings and the price table."""

from __future__ import annotations

import json

import click


@click.command(short_help="List providers, known model strings and prices.")
@click.option("--json", "as_json", is_flag=True, help="Print everything as JSON.")
def models(as_json: bool) -> None:
    """List the providers that model strings can name, known models, and prices per 1M tokens."""
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    from loopstack.models import catalog

    data = catalog()
    if as_json:
        click.echo(json.dumps(data, indent=2))
        return
    console = Console(highlight=False)
    providers = Table(title="Providers", title_justify="left")
    for column in ("provider", "streaming", "json", "seed", "free", "API key from"):
        providers.add_column(column, no_wrap=True)
    for p in data["providers"]:
        flags = ["yes" if p[k] else "" for k in ("streaming", "json_mode", "seed", "free")]
        providers.add_row(*(Text(v) for v in (p["name"], *flags, p["api_key_env"] or "")))
    console.print(providers)
    console.print("Model strings: " + ", ".join(data["models"]), soft_wrap=True)
    prices = Table(title=f"Prices ({data['price_unit']})", title_justify="left")
    for column in ("model", "since", "input", "cached input", "output", "source"):
        prices.add_column(
            column, justify="right" if column in ("input", "cached input", "output") else "left"
        )
    for row in data["prices"]:
        cells = (
            row["model"],
            row["since"],
            f"{row['input']:g}",
            f"{row['cached_input']:g}",
            f"{row['output']:g}",
        )
        prices.add_row(*(Text(v) for v in (*cells, row["source"])))
    console.print(prices)
