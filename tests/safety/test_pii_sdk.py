"""``loopstack.init(mask=pii_masker())``: spans leave the app masked, one placeholder per value per trace."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from pii_seeds import SEEDED_TEXT, SEEDS
from sqlalchemy import select

from loopstack.store import Store
from loopstack.store.tables import spans

APP = textwrap.dedent(
    """
    import asyncio, json, sys
    import loopstack
    from loopstack.models import get_model
    from loopstack.safety import pii_masker

    text, email = json.loads(sys.argv[1]), json.loads(sys.argv[2])
    loopstack.init(endpoint="", mask=pii_masker("placeholder"), instrument_openai=False)
    model = get_model("mock/support", outputs=[f"Copied to ops@example.net; we wrote to {email}."])

    @loopstack.observe
    def draft(ticket):
        return asyncio.run(model.generate(ticket)).text  # a span from the models layer, masked at export

    @loopstack.observe
    def handle(ticket, contact):
        return {"reply": draft(ticket), "contact": contact}

    handle(text, email)
    assert loopstack.flush(10)
    """
)


def test_an_app_with_the_pii_masker_stores_no_seeded_value(loopstack_home: Path) -> None:
    args = [json.dumps(SEEDED_TEXT), json.dumps(SEEDS["EMAIL_ADDRESS"])]
    subprocess.run([sys.executable, "-c", APP, *args], check=True, env=dict(os.environ), timeout=300)
    store = Store(f"sqlite:///{loopstack_home / 'loopstack.db'}")
    with store.read() as conn:
        rows = [dict(r._mapping) for r in conn.execute(select(spans))]
    store.close()
    by_name = {r["name"]: r for r in rows}
    assert set(by_name) == {"handle", "draft", "chat support"}
    dump = json.dumps(rows, default=str)
    for value in SEEDS.values():
        assert value not in dump
    # one address, one placeholder: in the root's input and output, the child's, and the model span's
    assert '"contact":"<EMAIL_1>"' in by_name["handle"]["output"].replace(" ", "")
    assert "<EMAIL_1>" in by_name["handle"]["input"] and "<EMAIL_1>" in by_name["draft"]["input"]
    # numbered per trace, not per text: the new address is the trace's second one, the known one keeps 1
    assert by_name["chat support"]["output"] == "Copied to <EMAIL_2>; we wrote to <EMAIL_1>."
    assert "<CREDIT_CARD_1>" in by_name["chat support"]["input"]
