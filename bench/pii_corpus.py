"""A deterministic, labelled corpus of synthetic support texts with PII and with look-alikes.

``generate(n, seed)`` returns ``n`` texts; each carries its gold spans (entity, start, end) and the
spans of look-alikes that must NOT be masked (order numbers, digit runs that fail Luhn, IBANs with a
wrong check, version strings, dates, prices, times, ZIP codes). Values are built by rule, not taken
from the recogniser under test: cards pass Luhn, IBANs carry valid ISO 7064 check digits for their
country's layout, phone numbers follow each country's numbering plan.

    python bench/pii_corpus.py --n 300 > /tmp/pii.jsonl   # to look at it
"""

from __future__ import annotations

import argparse
import json
import random
import string
from dataclasses import dataclass, field
from typing import Any

FIRST = ["maria", "john", "li", "fatima", "oskar", "aiko", "pedro", "sara", "noah", "amara", "yusuf", "elena"]
LAST = ["lopez", "smith", "wang", "haddad", "nilsson", "tanaka", "silva", "rossi", "cohen", "okafor", "kaya"]
DOMAINS = [
    "example.com",
    "mail.example.org",
    "acme.co.uk",
    "shop.example.io",
    "uni-example.de",
    "corp.example.net",
]

# (country, number as dialled in international form, national form) generators per plan
US_AREAS = ["212", "312", "415", "503", "617", "646", "702", "713", "808", "919"]
UK_MOBILE = [
    "7911",
    "7400",
    "7825",
    "7956",
]  # allocated mobile ranges (07700 900xxx is Ofcom's fiction range)
DE_AREAS = ["30", "40", "69", "89", "221"]
FR_FIRST = ["1", "2", "3", "6"]  # metropolitan geographic 01-03 and mobile 06 (05 90 is Guadeloupe)

IBAN_LAYOUTS = {  # country: BBAN layout ("n" digit, "a" upper letter, "c" alphanumeric)
    "DE": "n" * 18,
    "GB": "aaaa" + "n" * 14,
    "NL": "aaaa" + "n" * 10,
    "ES": "n" * 20,
    "FR": "n" * 10 + "c" * 11 + "nn",
    "BE": "n" * 12,
    "AT": "n" * 16,
    "CH": "n" * 5 + "c" * 12,
}
CARD_PREFIXES = [("4", 16), ("51", 16), ("55", 16), ("2221", 16), ("34", 15), ("37", 15), ("6011", 16)]


@dataclass
class Text:
    """One labelled text: gold PII spans and look-alike spans, each (entity or kind, start, end)."""

    text: str
    gold: list[tuple[str, int, int]] = field(default_factory=list)
    lookalikes: list[tuple[str, int, int]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"text": self.text, "gold": self.gold, "lookalikes": self.lookalikes}


def luhn_check_digit(body: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return str((10 - total % 10) % 10)


def luhn_ok(number: str) -> bool:
    return luhn_check_digit(number[:-1]) == number[-1]


def card(rng: random.Random) -> str:
    prefix, length = rng.choice(CARD_PREFIXES)
    body = prefix + "".join(rng.choice(string.digits) for _ in range(length - len(prefix) - 1))
    digits = body + luhn_check_digit(body)
    style = rng.choice(["space", "dash", "plain"])
    if length == 15:
        groups = [digits[:4], digits[4:10], digits[10:]]
    else:
        groups = [digits[i : i + 4] for i in range(0, 16, 4)]
    return {"space": " ".join(groups), "dash": "-".join(groups), "plain": digits}[style]


def bad_luhn_run(rng: random.Random) -> str:
    while True:
        digits = "4" + "".join(rng.choice(string.digits) for _ in range(15))
        if not luhn_ok(digits):
            return " ".join(digits[i : i + 4] for i in range(0, 16, 4))


def _iban_check(country: str, bban: str) -> str:
    rearranged = bban + country + "00"
    numeric = "".join(str(int(c, 36)) for c in rearranged)
    return f"{98 - int(numeric) % 97:02d}"


def _bban(rng: random.Random, layout: str) -> str:
    pools = {"n": string.digits, "a": string.ascii_uppercase, "c": string.digits + string.ascii_uppercase}
    return "".join(rng.choice(pools[k]) for k in layout)


def iban(rng: random.Random, valid: bool = True) -> str:
    country = rng.choice(sorted(IBAN_LAYOUTS))
    bban = _bban(rng, IBAN_LAYOUTS[country])
    check = _iban_check(country, bban)
    if not valid:
        check = f"{(int(check) + rng.randint(1, 90)) % 97 + 2:02d}"
        if check == _iban_check(country, bban):
            check = f"{(int(check) + 1) % 97 + 2:02d}"
    compact = country + check + bban
    if rng.random() < 0.6:
        return " ".join(compact[i : i + 4] for i in range(0, len(compact), 4))
    return compact


def phone(rng: random.Random) -> str:
    kind = rng.choice(["us1", "us2", "us3", "us4", "us5", "uk", "de", "fr"])
    n = lambda k: "".join(rng.choice(string.digits) for _ in range(k))  # noqa: E731
    area = rng.choice(US_AREAS)
    exchange = str(rng.randint(2, 9)) + n(2)
    line = n(4)
    if kind == "us1":
        return f"({area}) {exchange}-{line}"
    if kind == "us2":
        return f"{area}-{exchange}-{line}"
    if kind == "us3":
        return f"+1 {area} {exchange} {line}"
    if kind == "us4":
        return f"{area}.{exchange}.{line}"
    if kind == "us5":
        return f"{area}{exchange}{line}"
    if kind == "uk":
        return f"+44 {rng.choice(UK_MOBILE)} {n(6)}" if rng.random() < 0.5 else f"+44 20 7{n(3)} {n(4)}"
    if kind == "de":
        return f"+49 {rng.choice(DE_AREAS)} {rng.randint(2, 9)}{n(6)}"
    return f"+33 {rng.choice(FR_FIRST)} {n(2)} {n(2)} {n(2)} {n(2)}"


def email(rng: random.Random) -> str:
    first, last = rng.choice(FIRST), rng.choice(LAST)
    local = rng.choice(
        [f"{first}.{last}", f"{first}{rng.randint(1, 99)}", f"{first[0]}{last}", f"{first}+support"]
    )
    return f"{local}@{rng.choice(DOMAINS)}"


def ipv4(rng: random.Random) -> str:
    first = rng.choice([11, 23, 45, 66, 81, 92, 104, 145, 172, 185, 198, 203, 212])
    return f"{first}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"


def ipv6(rng: random.Random) -> str:
    groups = [f"{rng.randint(0, 0xFFFF):x}" for _ in range(8)]
    groups[0] = rng.choice(["2001", "2a02", "2606", "fd12"])
    if rng.random() < 0.5:
        return ":".join(groups)
    return f"{groups[0]}:{groups[1]}::{groups[6]}:{groups[7]}"


def url(rng: random.Random) -> str:
    host = rng.choice(["www.example-shop.com", "portal.example.org", "docs.example.io", "example.net"])
    path = rng.choice(["", "/account/settings", "/orders?id=77&ref=mail", "/reset-password/token-9f2c"])
    return f"{rng.choice(['https', 'http'])}://{host}{path}"


def order_number(rng: random.Random) -> str:
    return rng.choice(
        [
            f"#{rng.randint(100, 999)}-{rng.randint(10000, 99999)}",
            f"ORD-{rng.randint(2019, 2025)}-{rng.randint(0, 999999):06d}",
            f"A{rng.randint(10000000, 99999999)}",
        ]
    )


def version(rng: random.Random) -> str:
    return rng.choice(
        [
            f"v{rng.randint(1, 9)}.{rng.randint(0, 30)}.{rng.randint(0, 20)}",
            f"{rng.randint(1, 9)}.{rng.randint(0, 30)}.{rng.randint(0, 20)}",
            f"10.0.{rng.randint(19041, 22631)}.{rng.randint(256, 4000)}",  # a Windows build: not an IP
            f"{rng.randint(1, 5)}.{rng.randint(0, 20)}.{rng.randint(0, 9)}-beta.{rng.randint(1, 9)}",
        ]
    )


def date(rng: random.Random) -> str:
    y, m, d = rng.randint(2019, 2026), rng.randint(1, 12), rng.randint(1, 28)
    months = ["January", "March", "May", "July", "October", "December"]
    return rng.choice(
        [f"{y}-{m:02d}-{d:02d}", f"{d:02d}/{m:02d}/{y}", f"{rng.choice(months)} {d}, {y}", f"{m}.{d}.{y}"]
    )


def price(rng: random.Random) -> str:
    return rng.choice(
        [
            f"${rng.randint(1, 9)},{rng.randint(0, 999):03d}.{rng.randint(0, 99):02d}",
            f"€{rng.randint(1, 999)}.{rng.randint(0, 99):02d}",
            f"USD {rng.randint(10, 99)},{rng.randint(0, 999):03d}",
            f"{rng.randint(1, 500)}.{rng.randint(0, 99):02d} EUR",
        ]
    )


def time_of_day(rng: random.Random) -> str:
    return f"{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}"


def zip_code(rng: random.Random) -> str:
    return f"{rng.randint(10000, 99999)}"


PII = {
    "EMAIL_ADDRESS": (email, ["write to {}", "my email is {}", "contact: {}", "cc {} please"]),
    "PHONE_NUMBER": (phone, ["call me at {}", "my number is {}", "phone: {}", "reach me on {}"]),
    "CREDIT_CARD": (card, ["card {} was charged", "I paid with {}", "card number {}", "charge {} again"]),
    "IBAN_CODE": (iban, ["refund to IBAN {}", "my account {}", "IBAN: {}", "transfer to {}"]),
    "IP_ADDRESS": (
        lambda rng: ipv4(rng) if rng.random() < 0.6 else ipv6(rng),
        ["login from {}", "IP {}", "seen at {}"],
    ),
    "URL": (url, ["see {}", "the link {} fails", "open {}", "page {}"]),
}
LOOKALIKES = {
    "order": (order_number, ["order {} is late", "ref {}", "re: order {}"]),
    "bad_luhn": (bad_luhn_run, ["reference {}", "code {} from the letter", "voucher {}"]),
    "bad_iban": (lambda rng: iban(rng, valid=False), ["the form showed {}", "typo'd {} earlier"]),
    "version": (version, ["app version {}", "after updating to {}", "build {}"]),
    "date": (date, ["on {}", "since {}", "delivered {}"]),
    "price": (price, ["it cost {}", "charged {} twice", "total {}"]),
    "time": (time_of_day, ["at {}", "around {}"]),
    "zip": (zip_code, ["ZIP {}", "postcode {}"]),
}
OPENERS = ["Hello,", "Hi team,", "Urgent:", "Good morning.", "Dear support,", ""]
CLOSERS = ["Thanks.", "Regards.", "Please help!", "Cheers.", ""]


def _append(parts: list[str], at: int, template: str, value: str) -> tuple[int, int, int]:
    """Add ``template`` with ``value`` to ``parts``; returns (new length, value start, value end)."""
    before, after = template.split("{}")
    start = at + len(before)
    piece = before + value + after
    parts.append(piece)
    return at + len(piece), start, start + len(value)


def generate(n: int = 300, seed: int = 13) -> list[Text]:
    """``n`` texts; every entity type and look-alike kind appears about equally often."""
    rng = random.Random(seed)
    entity_types = sorted(PII)
    kinds = sorted(LOOKALIKES)
    out: list[Text] = []
    for i in range(n):
        chosen = [entity_types[i % len(entity_types)]] + rng.sample(entity_types, rng.randint(0, 2))
        decoys = [kinds[i % len(kinds)]] + rng.sample(kinds, rng.randint(0, 2))
        pieces: list[tuple[str, str, bool]] = [(e, "", True) for e in chosen] + [
            (k, "", False) for k in decoys
        ]
        rng.shuffle(pieces)
        item = Text("")
        parts: list[str] = []
        at = 0
        opener = rng.choice(OPENERS)
        if opener:
            parts.append(opener + " ")
            at += len(opener) + 1
        for name, _, is_pii in pieces:
            make, templates = (PII if is_pii else LOOKALIKES)[name]
            at, start, end = _append(parts, at, rng.choice(templates), make(rng))
            (item.gold if is_pii else item.lookalikes).append((name, start, end))
            parts.append(rng.choice([". ", "; ", ", and "]))
            at += len(parts[-1])
        closer = rng.choice(CLOSERS)
        parts.append(closer)
        item.text = "".join(parts)
        out.append(item)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=300)
    parser.add_argument("--seed", type=int, default=13)
    args = parser.parse_args()
    for t in generate(args.n, args.seed):
        print(json.dumps(t.to_json()))


if __name__ == "__main__":
    main()
