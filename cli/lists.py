"""A click parameter type for comma-separated numbers (``--k 10,20,40``, ``--milestones 80``)."""
from __future__ import annotations

from collections.abc import Callable

import click


class NumberList(click.ParamType):
    """``"a,b,c"`` -> ``(kind(a), kind(b), kind(c))``.

    ``what`` names the values in the error message; ``skip_blanks`` ignores empty items (so ``""``
    is the empty tuple); ``minimum``, if given, requires at least one value and every value
    ``>= minimum``, with ``noun`` naming one value in that message.
    """

    name = "list"

    def __init__(self, kind: Callable[[str], float] = int, what: str = "integers", *, skip_blanks: bool = False,
                 minimum: float | None = None, noun: str = "value") -> None:
        self.kind, self.what, self.skip_blanks = kind, what, skip_blanks
        self.minimum, self.noun = minimum, noun

    def convert(self, value, param, ctx) -> tuple:
        if isinstance(value, tuple):
            return value
        try:
            items = tuple(self.kind(v) for v in value.split(",") if v.strip() or not self.skip_blanks)
        except ValueError:
            self.fail(f"expected comma-separated {self.what}, got {value!r}", param, ctx)
        if self.minimum is not None and (not items or min(items) < self.minimum):
            self.fail(f"every {self.noun} must be >= {self.minimum}, got {value!r}", param, ctx)
        return items
