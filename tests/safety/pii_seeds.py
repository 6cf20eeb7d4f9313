"""Seeded PII values shared by the safety tests, and the error the network guard raises."""

from __future__ import annotations

#: Values seeded into texts that must never survive masking (one per entity type).
SEEDS = {
    "EMAIL_ADDRESS": "maria.lopez@example.com",
    "PHONE_NUMBER": "+1 415-555-0134",
    "CREDIT_CARD": "4539 1488 0343 6467",
    "IBAN_CODE": "DE89 3704 0044 0532 0130 00",
    "IP_ADDRESS": "203.0.113.42",
}
SEEDED_TEXT = (
    f"Hi, I'm Maria ({SEEDS['EMAIL_ADDRESS']}, phone {SEEDS['PHONE_NUMBER']}). My card "
    f"{SEEDS['CREDIT_CARD']} was charged twice; refund to IBAN {SEEDS['IBAN_CODE']}. "
    f"I logged in from {SEEDS['IP_ADDRESS']}."
)


class NetworkBlocked(RuntimeError):
    """A test tried to reach beyond loopback."""
