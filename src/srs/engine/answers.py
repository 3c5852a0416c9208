"""The shapes a recipe returns, and every known user's default answer worked out once.

Most requests ask a question the model could answer before it was asked: a user with no
events since training, under no filter beyond the default one, gets an answer that depends only
on the model's arrays and that user's training history. A batch inference job (Personalize's
batch recommendations) exploits the same fact. :class:`AnswerTable` holds those answers, so
serving such a user costs a row read instead of scoring, a softmax, a sort and the reasons.
A user who sends an event is scored live again at once, so feedback still acts immediately.

The table is built from the functions a live request uses (the same per-user raw scores,
probabilities, contributor rule, and the engine's one top-k of ``topk.py``, whose row-wise form
orders each row exactly as a request's ``top_k`` does; ``Recipe.answer_table``), so its answers
equal the live ones exactly; the tests check that for every user.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, NamedTuple, TypeAlias

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from srs.arrays import BoolArray, FloatArray, IntArray
from srs.engine.topk import PADDING


class ScoredItem(NamedTuple):
    """One answer item; ``score`` is None for items the model has no data on (rankings only).

    A named tuple rather than a dataclass: answers build up to 500 of them per request."""

    item_id: str
    score: float | None
    reason: str


class Ranked(NamedTuple):
    """An answer as three aligned lists: the cheapest shape to build, and to turn into another
    record type (the service's) without an intermediate object per item."""

    item_ids: list[str]
    scores: list[float | None]
    reasons: list[str]

    @classmethod
    def of(cls, items: Sequence[ScoredItem]) -> Ranked:
        return cls(
            [item.item_id for item in items],
            [item.score for item in items],
            [item.reason for item in items],
        )

    def scored_items(self) -> list[ScoredItem]:
        return list(map(ScoredItem, self.item_ids, self.scores, self.reasons))


@dataclass(frozen=True, slots=True)
class AnswerTable:
    """The best ``width`` items of each known user, best first, with scores and reasons.

    Row ``r`` answers ``user_ids[r]``; its first ``lengths[r]`` cells are used (fewer than
    ``width`` only when exclusions leave fewer items). ``reasons`` holds codes into
    ``reason_texts``, since users share a few thousand texts at most.
    """

    user_index: Mapping[str, int]
    item_ids: Sequence[str]
    positions: npt.NDArray[np.int32]
    lengths: npt.NDArray[np.int32]
    scores: npt.NDArray[np.float64]
    reasons: npt.NDArray[np.int32]
    reason_texts: Sequence[str]

    @property
    def width(self) -> int:
        return int(self.positions.shape[1])

    @property
    def nbytes(self) -> int:
        return int(
            self.positions.nbytes + self.lengths.nbytes + self.scores.nbytes + self.reasons.nbytes
        )

    def cells(
        self, user_id: str, count: int
    ) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.float64], npt.NDArray[np.int32]] | None:
        """The user's top ``count`` as views of the table's positions, scores and reason
        codes, or None when the table cannot say (unknown user, or more items asked than it
        holds of a larger catalogue): the caller then scores live."""
        row = self.user_index.get(user_id)
        if row is None:
            return None
        width = self.positions.shape[1]
        if count > width and width < len(self.item_ids):
            return None
        length = self.lengths.item(row)
        if count < length:
            length = count
        return (
            self.positions[row, :length],
            self.scores[row, :length],
            self.reasons[row, :length],
        )

    def row(self, user_id: str, count: int) -> tuple[list[int], list[float], list[str]] | None:
        """:meth:`cells` as Python lists, with the reason texts."""
        found = self.cells(user_id, count)
        if found is None:
            return None
        positions, scores, reasons = found
        texts = self.reason_texts
        return positions.tolist(), scores.tolist(), [texts[code] for code in reasons.tolist()]

    def ranked(self, user_id: str, count: int) -> Ranked | None:
        """:meth:`row` with item ids, in a recipe's answer shape."""
        found = self.row(user_id, count)
        if found is None:
            return None
        positions, scores, reasons = found
        ids = self.item_ids
        return Ranked([ids[position] for position in positions], list(scores), reasons)


class ReasonCodes:
    """Reason texts numbered as they are first met, for the table's ``reasons`` codes."""

    def __init__(self) -> None:
        self._codes: dict[str, int] = {}
        self.by_key: dict[int, int] = {}
        """Codes by a caller's own key for a text (e.g. its contributors), to skip the text."""

    def encode(self, texts: Sequence[str]) -> list[int]:
        codes = self._codes
        return [codes.setdefault(text, len(codes)) for text in texts]

    @property
    def texts(self) -> tuple[str, ...]:
        return tuple(self._codes)


def exclusion_mask(
    rows: int,
    n_items: int,
    excluded: Any,
    always: npt.NDArray[np.bool_] | None,
) -> npt.NDArray[np.bool_]:
    """A block's excluded items as a dense mask, from a CSR block (or None) and a mask shared
    by every user (or None)."""
    mask = np.zeros((rows, n_items), dtype=bool)
    if excluded is not None and excluded.nnz:
        mask[np.repeat(np.arange(rows), np.diff(excluded.indptr)), excluded.indices] = True
    if always is not None:
        mask |= always[np.newaxis, :]
    return mask


ANSWER_BLOCK_CELLS: Final = 1 << 18
"""Users × items scored at once while building an answer table (memory stays small)."""
BlockAnswers: TypeAlias = Callable[
    [int, int, BoolArray, ReasonCodes], tuple[IntArray, FloatArray, IntArray]
]
"""(first user, stop, the block's excluded items, codes) → the block's positions (``PADDING``
past a row's allowed items), scores and reason codes: the recipe's part of the table."""


def build_answer_table(
    user_index: Mapping[str, int],
    item_ids: Sequence[str],
    width: int,
    answer_block: BlockAnswers,
    exclude: sp.csr_matrix | None = None,
    always_excluded: BoolArray | None = None,
) -> AnswerTable:
    """The table of ``len(user_index)`` users, answered a block of users at a time.

    The recipe answers each block (``Recipe.answer_table`` passes its own scoring); this
    assembles the blocks and the exclusions of each, so the table's layout is built once for
    every recipe. Row ``r`` of ``exclude`` marks the items excluded for user ``r``;
    ``always_excluded`` is excluded for every user.
    """
    n_users, n_items = len(user_index), len(item_ids)
    positions = np.zeros((n_users, width), dtype=np.int32)
    scores = np.zeros((n_users, width), dtype=np.float64)
    reasons = np.zeros((n_users, width), dtype=np.int32)
    lengths = np.zeros(n_users, dtype=np.int32)
    codes = ReasonCodes()
    block = max(1, ANSWER_BLOCK_CELLS // max(n_items, 1))
    for start in range(0, n_users, block):
        stop = min(start + block, n_users)
        excluded = exclude[start:stop] if exclude is not None else None
        mask = exclusion_mask(stop - start, n_items, excluded, always_excluded)
        top, scores[start:stop], reasons[start:stop] = answer_block(start, stop, mask, codes)
        positions[start:stop] = top
        lengths[start:stop] = np.count_nonzero(top != PADDING, axis=1)
    return AnswerTable(user_index, item_ids, positions, lengths, scores, reasons, codes.texts)
