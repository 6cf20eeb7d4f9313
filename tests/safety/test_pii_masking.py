"""PII masking with Presidio offline: strategies, placeholders per trace, custom recognisers, bad config."""

from __future__ import annotations

import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from pii_seeds import SEEDED_TEXT, SEEDS, NetworkBlocked

from loopstack.errors import ConfigError, InvalidInput
from loopstack.safety import PiiConfig, mask_records, pii_masker


def test_the_guard_blocks_a_connection_beyond_loopback(no_network: list[str]) -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        with pytest.raises(NetworkBlocked):
            sock.connect(("198.51.100.7", 443))
        with pytest.raises(NetworkBlocked):
            socket.getaddrinfo("publicsuffix.org", 443)
    finally:
        sock.close()
    assert len(no_network) == 2
    no_network.clear()  # expected here; any other test that does this fails at teardown


def test_placeholder_masks_every_seeded_value_and_keeps_the_rest() -> None:
    masked = pii_masker("placeholder")(SEEDED_TEXT)
    for value in SEEDS.values():
        assert value not in masked
    assert "<EMAIL_1>" in masked and "<PHONE_1>" in masked and "<CREDIT_CARD_1>" in masked
    assert "<IBAN_1>" in masked and "<IP_1>" in masked
    assert masked.startswith("Hi, I'm Maria (") and "was charged twice" in masked


def test_redact_replaces_with_one_marker() -> None:
    masked = pii_masker("redact")("write to a@example.com or b@example.org")
    assert masked == "write to [REDACTED] or [REDACTED]"


def test_hash_is_salted_stable_and_differs_by_salt() -> None:
    one = pii_masker("hash", salt="s1")
    two = pii_masker("hash", salt="s2")
    a = one("mail a@example.com")
    assert a == one("mail a@example.com") and a.startswith("mail <EMAIL_") and "a@example.com" not in a
    assert a != two("mail a@example.com")
    assert one("mail b@example.com") != a


def test_hash_without_a_salt_names_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError, match="LOOPSTACK_PII_SALT"):
        pii_masker("hash")
    monkeypatch.setenv("LOOPSTACK_PII_SALT", "from-settings")
    from loopstack.config import get_settings

    get_settings.cache_clear()
    assert pii_masker("hash")("a@example.com") == pii_masker("hash", salt="from-settings")("a@example.com")


def test_placeholders_are_consistent_within_a_trace_and_fresh_in_another() -> None:
    masker = pii_masker("placeholder")
    in_trace = masker.for_trace("a" * 32)
    first = in_trace("from x@example.com to y@example.com")
    second = in_trace("reply to y@example.com, cc x@example.com")  # another span of the same trace
    assert first == "from <EMAIL_1> to <EMAIL_2>"
    assert second == "reply to <EMAIL_2>, cc <EMAIL_1>"
    other = masker.for_trace("b" * 32)
    assert other("y@example.com") == "<EMAIL_1>"
    with masker.scope("a" * 32):  # the same numbering through the scope API
        assert masker("x@example.com") == "<EMAIL_1>"


def test_mask_records_numbers_per_record_and_masks_nested_strings() -> None:
    records = [
        {"id": "r1", "input": {"question": "I am x@example.com"}, "expected": ["x@example.com", 3]},
        {"id": "r2", "input": {"question": "I am z@example.com"}, "expected": None},
    ]
    out = mask_records(records, keys=["input", "expected"])
    assert out[0] == {"id": "r1", "input": {"question": "I am <EMAIL_1>"}, "expected": ["<EMAIL_1>", 3]}
    assert out[1]["input"] == {"question": "I am <EMAIL_1>"}
    assert records[0]["input"] == {"question": "I am x@example.com"}  # copies, not in place


def test_a_custom_recogniser_by_config_masks_its_entity_with_context() -> None:
    masker = pii_masker(
        "placeholder",
        recognizers=[
            {"name": "order ids", "entity": "ORDER_ID", "regex": r"\bORD-\d{6}\b", "score": 0.9},
            # weak on its own (below the threshold); the word "employee" nearby lifts it
            {
                "name": "staff",
                "entity": "EMPLOYEE_ID",
                "regex": r"\bE\d{5}\b",
                "score": 0.3,
                "context": ["employee"],
            },
        ],
    )
    assert masker("order ORD-123456 shipped") == "order <ORDER_ID_1> shipped"
    assert masker("employee E12345 called") == "employee <EMPLOYEE_ID_1> called"
    assert masker("code E12345 called") == "code E12345 called"


def test_a_regex_that_does_not_compile_names_the_recogniser() -> None:
    with pytest.raises(InvalidInput, match=r"PII recogniser 'tickets': regex '\[TK-' does not compile"):
        pii_masker(recognizers=[{"name": "tickets", "entity": "TICKET", "regex": "[TK-"}])


def test_an_unknown_entity_lists_the_known_ones() -> None:
    with pytest.raises(InvalidInput) as err:
        pii_masker(entities=["EMAIL_ADDRESS", "SHOE_SIZE"])
    message = str(err.value)
    assert "unknown PII entity type 'SHOE_SIZE'" in message
    assert "EMAIL_ADDRESS" in message and "CREDIT_CARD" in message and "IBAN_CODE" in message


def test_an_unknown_strategy_and_a_bad_config_field_are_one_line() -> None:
    with pytest.raises(InvalidInput, match="unknown PII masking strategy 'blur'"):
        pii_masker("blur")  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="PII config score_threshold"):
        PiiConfig.checked({"score_threshold": 3})


def test_names_and_places_need_an_installed_ner_model() -> None:
    with pytest.raises(ConfigError, match="needs a spaCy NER model"):
        pii_masker(entities=["PERSON"])
    masker = pii_masker(ner_model="xx_not_installed_model")
    with pytest.raises(ConfigError, match="is not an installed spaCy package.*never downloads"):
        masker("hello")


def test_only_the_chosen_entities_are_masked() -> None:
    masker = pii_masker(entities=["EMAIL_ADDRESS"])
    assert masker("a@example.com at 203.0.113.42") == "<EMAIL_1> at 203.0.113.42"


def test_importing_the_sdk_and_safety_loads_no_presidio() -> None:
    code = textwrap.dedent(
        """
        import sys
        import loopstack, loopstack.safety, loopstack.tracing, loopstack.models
        from loopstack.safety import pii_masker
        masker = pii_masker("placeholder")  # configured, not yet used: still nothing loaded
        print(sorted(m for m in ("presidio_analyzer", "spacy", "tldextract") if m in sys.modules))
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_without_the_safety_extra_the_error_names_the_install() -> None:
    code = textwrap.dedent(
        """
        import sys
        sys.modules["presidio_analyzer"] = None  # as if loopstack[safety] were not installed
        from loopstack.errors import LoopstackError
        from loopstack.safety import pii_masker
        try:
            pii_masker()("a@example.com")
        except LoopstackError as exc:
            print(exc)
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "pip install 'loopstack[safety]'" in out.stdout and "presidio_analyzer" in out.stdout


def test_a_users_ner_pipeline_masks_names_and_places(tmp_path: Path) -> None:
    import spacy

    nlp = spacy.blank("en")  # built here, not downloaded: a rule-based NER stands in for a trained one
    ruler = nlp.add_pipe("entity_ruler")
    ruler.add_patterns(  # type: ignore[attr-defined]
        [
            {"label": "PERSON", "pattern": [{"LOWER": "maria"}, {"LOWER": "lopez"}]},
            {"label": "GPE", "pattern": "Berlin"},
        ]
    )
    nlp.to_disk(tmp_path / "ner")
    masker = pii_masker(ner_model=str(tmp_path / "ner"))
    assert masker("Maria Lopez moved to Berlin, mail m@example.com") == (
        "<PERSON_1> moved to <LOCATION_1>, mail <EMAIL_1>"
    )
