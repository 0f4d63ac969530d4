"""The one split of people into a development group and a final test group.

Rule (fixed once, never tuned): a person ``Sxxx`` belongs to the **final test group** when
``sha256("bci-app/final-test/v1:Sxxx") mod 10 < 3``, i.e. about 30 % of people, decided per person
so that adding people to the data never moves anyone already there from one group to the other.
Everything else is the **development group**, where every choice (recipe, epochs, thresholds,
window, gate) is made. The final group is only scored, by ``bench/decoding.py --group final``, and
pretraining never sees it (``bci-app pretrain --exclude-final-group``; the model JSON lists the
excluded people).

On the 26 EEGMMIDB people in ``../shared/data`` this gives the final group
S006 S008 S014 S018 S056 S061 S062 S063 (8 people) and 18 development people.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable

from bci_app.errors import ConfigError

__all__ = ["SPLIT_SALT", "is_final_test", "split_people", "final_group", "development_group"]

SPLIT_SALT = "bci-app/final-test/v1"
_FINAL_OUT_OF_TEN = 3
_SUBJECT = re.compile(r"^S\d{3}$")


def _check(subject: str) -> str:
    s = subject.strip().upper()
    if not _SUBJECT.match(s):
        raise ConfigError(f"not an EEGMMIDB person id: {subject!r} (expected e.g. S001)")
    return s


def is_final_test(subject: str) -> bool:
    """True when ``subject`` (e.g. ``S006``) is in the final test group (rule in the module doc)."""
    digest = hashlib.sha256(f"{SPLIT_SALT}:{_check(subject)}".encode()).hexdigest()
    return int(digest, 16) % 10 < _FINAL_OUT_OF_TEN


def split_people(subjects: Iterable[str]) -> tuple[list[str], list[str]]:
    """``(development, final)``: sorted person ids of each group."""
    people = sorted({_check(s) for s in subjects})
    final = [s for s in people if is_final_test(s)]
    return [s for s in people if s not in final], final


def final_group(subjects: Iterable[str]) -> list[str]:
    """The final test group among ``subjects`` (sorted)."""
    return split_people(subjects)[1]


def development_group(subjects: Iterable[str]) -> list[str]:
    """The development group among ``subjects`` (sorted)."""
    return split_people(subjects)[0]
