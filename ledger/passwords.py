"""What a password must be (docs/api.md, "Passwords"), and temporary passwords.

The rules, each with a stable name that the API's 422 answer and the CLI's
error message carry beside the field:

* ``password.min_length``: at least ``MIN_LENGTH`` (10) characters;
* ``password.max_length``: at most ``MAX_LENGTH`` (256) characters (argon2 hashes
  anything, but a megabyte password is a denial of service);
* ``password.character_classes``: characters of at least two classes among
  lower-case letters, upper-case letters, digits and everything else (a Chinese
  character, a space or punctuation counts as "everything else");
* ``password.not_username``: neither equal to the username nor containing it
  (ignoring case; usernames under 3 characters are not looked for);
* ``password.not_common``: not one of a small built-in list of the most common
  passwords, ignoring case, and not one character repeated;
* ``password.not_reused``: on a change, not the password it replaces.

Passwords are compared and stored as given after NFC normalisation and trimming
(the API's text input type), so the same password typed on two keyboards matches.
"""

from __future__ import annotations

import secrets
import string
from dataclasses import dataclass

from domain.inputs import text

MIN_LENGTH = 10
MAX_LENGTH = 256

COMMON_PASSWORDS = frozenset({
    "1234567890", "12345678910", "0123456789", "123456789a", "1234567890a", "a123456789",
    "1q2w3e4r5t", "1qaz2wsx3edc", "qwertyuiop", "qwerty12345", "qwerty123456", "password1",
    "password12", "password123", "password1234", "passw0rd123", "p@ssw0rd123", "iloveyou123",
    "abc1234567", "abcd123456", "abcdefghij", "admin12345", "admin123456", "administrator",
    "welcome123", "letmein123", "changeme123", "woaini1314", "woaini123456", "5201314520",
    "a1b2c3d4e5", "zaq12wsx34", "asdfghjkl1", "1qazxsw23edc", "football123", "princess123",
    "sunshine123", "superman123", "trustno1234", "monkey12345", "dragon12345", "starwars123",
    "88888888888", "66666666666", "11111111111", "00000000000", "147258369a", "q1w2e3r4t5",
    "ttledger123", "ttledger2024", "ttledger2025",
})
"""A short list of the passwords seen most in leaks that would otherwise pass the other rules."""


@dataclass(frozen=True)
class PasswordRejected(ValueError):
    """A password broke a rule: ``rule`` names it, ``field`` the input it came in."""

    rule: str
    detail: str
    field: str = "new_password"

    def __str__(self) -> str:
        return f"{self.field}: {self.detail} ({self.rule})"


def _classes(password: str) -> int:
    lower = any(c.islower() and c.isascii() for c in password)
    upper = any(c.isupper() and c.isascii() for c in password)
    digit = any(c.isdigit() and c.isascii() for c in password)
    other = any(not (c.isascii() and c.isalnum()) for c in password)
    return sum((lower, upper, digit, other))


def check_strength(password: str, *, username: str = "", field: str = "new_password") -> None:
    """Raise :class:`PasswordRejected` naming the first rule ``password`` breaks.

    ``password.not_reused`` needs the stored hash: :class:`ledger.users.UserService` checks it.
    """
    if len(password) < MIN_LENGTH:
        raise PasswordRejected("password.min_length",
                               f"密码至少 {MIN_LENGTH} 个字符 / a password has at least {MIN_LENGTH} characters "
                               f"(this one has {len(password)})", field)
    if len(password) > MAX_LENGTH:
        raise PasswordRejected("password.max_length",
                               f"密码至多 {MAX_LENGTH} 个字符 / a password has at most {MAX_LENGTH} characters", field)
    if _classes(password) < 2:
        raise PasswordRejected("password.character_classes",
                               "密码须含两类以上字符（小写、大写、数字、其他） / a password mixes at least two "
                               "kinds of characters among lower case, upper case, digits and others", field)
    folded = password.casefold()
    name = username.strip().casefold()
    if name and (folded == name or (len(name) >= 3 and name in folded)):
        raise PasswordRejected("password.not_username",
                               "密码不能包含用户名 / a password may not contain the username", field)
    if folded in COMMON_PASSWORDS or len(set(folded)) <= 2:
        raise PasswordRejected("password.not_common",
                               "密码过于常见 / this password is among the most common ones; choose another", field)


TEMPORARY_ALPHABET = "".join(c for c in string.ascii_letters + string.digits if c not in "Il1O0o")


def temporary_password(length: int = 16) -> str:
    """A random temporary password (about 95 bits) that passes :func:`check_strength`."""
    while True:
        candidate = "".join(secrets.choice(TEMPORARY_ALPHABET) for _ in range(length))
        if _classes(candidate) >= 3:
            return candidate


# The input types of the account routes (domain/inputs.py's text kinds).
Username = text(64, description="A username: 1–64 characters, any script, no control character; "
                "unique whatever its case.")
Password = text(MAX_LENGTH, description="A password (trimmed, NFC); docs/api.md, \"Passwords\", says what a "
                "new one must be.")
TotpCode = text(10, description="The 6 digits the authenticator app shows now.")
