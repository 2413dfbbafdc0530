"""Seeding a fake by kind: ``--seed lead=50,contact=20`` read (text in, counts or a
``ValueError`` naming the bad part out), and the counts stored.

``--seed N`` (a bare number) stays the fault generator's seed, as it always was.
"""

from __future__ import annotations

import argparse
import difflib
import re
from collections.abc import Collection, Mapping, Sequence
from typing import Any, Protocol

from ._objects import CALL_KIND, KINDS

__all__ = [
    "CALL_ALIAS",
    "SEED_KINDS",
    "SeedAction",
    "canonical_kind",
    "describe_unknown_kind",
    "parse_seed_counts",
    "seed_counts",
    "seed_plan",
]

CALL_ALIAS = "call"
"""``call``: the short name of ``activity.call`` (``--seed-calls``, ``/_fake/seed``'s default)."""
SEED_KINDS: tuple[str, ...] = (*KINDS, CALL_ALIAS)
"""Every kind ``--seed`` and ``/_fake/`` take: the store's kinds (``lead``, ``contact``,
``activity.note``, ``pipeline``, ``custom_field.lead``, ...), and ``call``."""


def canonical_kind(kind: str) -> str:
    """The store's name of ``kind`` (``call`` is ``activity.call``)."""
    return CALL_KIND.name if kind == CALL_ALIAS else kind


# A bare whole number is the fault seed, as ``--seed N`` always was; ``KIND=N`` never is one.
_FAULT_SEED = re.compile(r"[+-]?\d+")
_COUNT = re.compile(r"\d+")


def parse_seed_counts(text: str, kinds: Collection[str]) -> dict[str, int]:
    """``"lead=50,contact=20"`` as ``{"lead": 50, "contact": 20}`` (in the order given).

    Each kind must be one of ``kinds`` and appear once; each count a whole number, 0 or
    more. Anything else raises ``ValueError`` naming the part at fault.
    """
    counts: dict[str, int] = {}
    for item in text.split(","):
        part = item.strip()
        if not part:
            raise ValueError(f"an empty item in {text!r}")
        kind, equals, count = (piece.strip() for piece in part.partition("="))
        if not equals or not kind:
            raise ValueError(f"{part!r} is not KIND=N (e.g. lead=50)")
        if kind not in kinds:
            raise ValueError(
                f"unknown kind {kind!r} in {part!r} ({describe_unknown_kind(kind, kinds)})"
            )
        if not _COUNT.fullmatch(count):
            raise ValueError(f"{part!r}: the count must be a whole number, 0 or more")
        if kind in counts:
            raise ValueError(f"{kind!r} is given twice")
        counts[kind] = int(count)
    return counts


def describe_unknown_kind(kind: str, kinds: Collection[str] = SEED_KINDS) -> str:
    """What to say of an unknown kind: the likeliest meant, then every kind."""
    near = difflib.get_close_matches(kind, kinds, n=1)
    every = "kinds: " + ", ".join(sorted(kinds))
    return f"did you mean {near[0]!r}? {every}" if near else every


class SeedAction(argparse.Action):
    """``--seed KIND=N[,KIND=N...]`` adds to ``seed_objects``; ``--seed N`` (a bare number,
    as before) sets the fault seed, ``dest``. Repeatable; a kind may be given once.
    """

    def __init__(self, *args: Any, kinds: Collection[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.kinds = kinds

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: str | Sequence[Any] | None,
        option_string: str | None = None,
    ) -> None:
        text = str(values)
        if _FAULT_SEED.fullmatch(text.strip()):
            setattr(namespace, self.dest, int(text))
            return
        if "=" not in text:
            raise argparse.ArgumentError(
                self,
                f"{text!r} is neither KIND=N,... (objects to seed) nor a whole number "
                "(the fault seed, also --fault-seed N)",
            )
        try:
            counts = parse_seed_counts(text, self.kinds)
        except ValueError as exc:
            raise argparse.ArgumentError(self, str(exc)) from None
        # A fresh dict: argparse hands every parse the same default object.
        seeded = dict(getattr(namespace, "seed_objects", None) or {})
        for kind, n in counts.items():
            if kind in seeded:
                raise argparse.ArgumentError(self, f"{kind!r} is given twice")
            seeded[kind] = n
        namespace.seed_objects = seeded


class _Seedable(Protocol):
    def seed_objects(self, kind: str, n: int, **fields: Any) -> list[str]: ...


def seed_counts(fake: _Seedable, counts: Mapping[str, int]) -> dict[str, list[str]]:
    """Store ``counts[kind]`` objects of each kind in ``fake``; their ids by kind.

    Leads come first, so that objects that belong to a lead (contacts, opportunities,
    activities, ...) are spread over the seeded leads, as in a real organization.
    """
    order = sorted(counts, key=lambda kind: kind != "lead")
    seeded: dict[str, list[str]] = {}
    for kind in order:
        n, name = counts[kind], canonical_kind(kind)
        leads = seeded.get("lead", [])
        if leads and KINDS[name].lead_scoped:
            seeded[kind] = [
                fake.seed_objects(name, 1, lead_id=leads[i % len(leads)])[0] for i in range(n)
            ]
        else:
            seeded[kind] = fake.seed_objects(name, n)
    return seeded


def seed_plan(seed_calls: int, seed_objects: Mapping[str, int] | None) -> dict[str, int]:
    """The counts to seed from ``--seed-calls N`` and ``--seed KIND=N,...`` together
    (``ValueError`` for an unknown kind, a negative count, or calls given twice).
    """
    plan = dict(seed_objects or {})
    for kind, n in plan.items():
        if kind not in SEED_KINDS:
            raise ValueError(f"unknown kind {kind!r} ({describe_unknown_kind(kind)})")
        if n < 0:
            raise ValueError(f"{kind}={n}: the count must be a whole number, 0 or more")
    if CALL_ALIAS in plan and CALL_KIND.name in plan:
        raise ValueError(f"calls are seeded twice ({CALL_ALIAS} and {CALL_KIND.name}): give one")
    if seed_calls:
        if CALL_ALIAS in plan or CALL_KIND.name in plan:
            raise ValueError(
                "calls are seeded twice (--seed-calls and --seed call=N): give one of them"
            )
        plan = {CALL_ALIAS: seed_calls, **plan}
    return plan
