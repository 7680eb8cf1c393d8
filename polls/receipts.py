"""Receipt codes: shown to the voter once, stored only as a SHA-256 hash.

A code is 128 random bits in Crockford-style base32 (no I, L, O, U to misread), shown
in groups of five: ``7KQ2M-3XJ9A-...``. Hyphens, spaces and case do not matter when
a voter types it back.
"""

import hashlib
import secrets

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_LENGTH = 26  # 26 x 5 bits = 130 bits >= 128
GROUP = 5
_TRANSLATE = str.maketrans({"I": "1", "L": "1", "O": "0", "-": None, " ": None})


def receipt_new() -> str:
    # One draw of 130 random bits, cut into 5-bit digits (one secrets.choice per digit
    # cost a tenth of a vote's CPU).
    bits = secrets.randbits(CODE_LENGTH * 5)
    raw = "".join(ALPHABET[(bits >> (5 * index)) & 31] for index in range(CODE_LENGTH))
    return "-".join(raw[i : i + GROUP] for i in range(0, CODE_LENGTH, GROUP))


def receipt_normalize(code: str) -> str | None:
    """The canonical form of a typed code, or None when it cannot be one."""
    text = code.strip().upper().translate(_TRANSLATE)
    if len(text) != CODE_LENGTH or any(char not in ALPHABET for char in text):
        return None
    return text


def receipt_hash(code: str) -> str | None:
    canonical = receipt_normalize(code)
    if canonical is None:
        return None
    return hashlib.sha256(canonical.encode()).hexdigest()
