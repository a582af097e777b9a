"""The seed a class run injects into one student's notebook.

Every notebook graded with one seed trains, on a CPU, to the same weights when
two students write the same architecture: honest pairs would look copied. A
class run therefore salts the seed with the student's name: reproducible (the
same student, the same seed, every rerun) and different between students.
"""

from __future__ import annotations

import hashlib

SEED_RANGE = 2**31  # keras.utils.set_random_seed, NumPy and torch all take it


def student_seed(seed: int, student: str) -> int:
    """The seed for ``student``'s notebooks in a class graded with ``seed``."""
    digest = hashlib.sha256(f"{seed}\0{student}".encode("utf-8", "surrogateescape")).digest()  # any folder name
    return int.from_bytes(digest[:8], "big") % SEED_RANGE
