"""What can be wrong with an archived page, each problem with its kind.

The kind is given where the problem is found, by the code that knows what it means:
whether bytes were lost or are wrong (``DAMAGE``: `steppe rebuild` lists it as bad
input and exits 1), or the page is merely odd and was read in full (``NOTE``). A
problem is also its message, so it is stored and printed as text.
"""

from __future__ import annotations

from enum import Enum


class ProblemKind(Enum):
    DAMAGE = "bad input"  # bytes lost or wrong: what was read is not all the server sent
    NOTE = "note"         # odd but read in full (empty page, mislabelled charset, no article)


class Problem(str):
    """A message (``str``) that carries its kind."""

    kind: ProblemKind

    def __new__(cls, kind: ProblemKind, message: str) -> Problem:
        problem = super().__new__(cls, message)
        problem.kind = kind
        return problem

    def __getnewargs__(self) -> tuple[ProblemKind, str]:  # problems travel back from worker processes
        return self.kind, str(self)

    def __repr__(self) -> str:
        return f"Problem({self.kind.name}, {str(self)!r})"

    @classmethod
    def damage(cls, message: str) -> Problem:
        return cls(ProblemKind.DAMAGE, message)

    @classmethod
    def note(cls, message: str) -> Problem:
        return cls(ProblemKind.NOTE, message)
