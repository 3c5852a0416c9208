"""What the default filter removes because of each user's stored history, worked out once.

The default filter (e.g. ``EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("launched")``)
runs on every request. Evaluated per request it has to slice the user's rows, build the
evaluator's columns and match them, a sizeable share of a recommendation. The stored history
does not change while a server runs, and for a parameter-free chain of EXCLUDE expressions a
user's exclusions are the union of what each of their rows excludes
(:attr:`FilterExpression.row_wise`). So the filter runs once over every stored row, and a
request only reads the user's excluded items from a prefix sum, then evaluates the filter on
the few events recorded since.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from srs.arrays import IntArray
from srs.data.history import InteractionHistory, UserRows
from srs.data.interaction_rows import CodedText, InteractionRows
from srs.engine.filters.evaluate import FilterExpression


class StoredExclusions:
    """Items each user's stored rows exclude under one row-wise filter, as history item codes.

    ``before[r]`` counts the excluding rows before history row ``r``, so the excluding rows of
    a user's span ``[start, end)`` are ``codes[before[start]:before[end]]``.
    """

    def __init__(
        self,
        before: IntArray,
        codes: IntArray,
        item_ids: Sequence[str],
        owners: IntArray,
        user_ids: Sequence[str],
    ) -> None:
        self._before = before
        self._codes = codes
        self.item_ids = tuple(item_ids)
        self._owners = owners
        self.user_ids = tuple(user_ids)

    @classmethod
    def build(cls, expression: FilterExpression, history: InteractionHistory) -> StoredExclusions:
        users, rows = history.all_rows()
        excluding = expression.excluding_rows(
            whole_history_rows(users, rows, history.user_ids.tolist())
        )
        before = np.concatenate(([0], np.cumsum(excluding, dtype=np.int64)))
        codes = np.asarray(rows.item_codes[excluding], dtype=np.int64)
        owners = np.asarray(users[excluding], dtype=np.int64)
        return cls(before, codes, rows.item_ids, owners, history.user_ids.tolist())

    def codes(self, span: tuple[int, int]) -> IntArray:
        """History item codes the user's stored rows exclude (repeats possible)."""
        start, end = span
        return self._codes[self._before[start] : self._before[end]]

    def positions(self, catalogue_index: Mapping[str, int]) -> IntArray:
        """Each history item code's position in a model's catalogue (-1: not in it), to map
        :meth:`codes` onto that model's items with one gather."""
        return np.asarray([catalogue_index.get(item, -1) for item in self.item_ids], dtype=np.int64)

    def matrix(
        self, user_index: Mapping[str, int], positions: IntArray, n_items: int
    ) -> sp.csr_matrix:
        """Every user's excluded items at once, as CSR rows numbered by ``user_index`` (e.g.
        a model's users) over a model's items (``positions`` from :meth:`positions`)."""
        rows = np.asarray([user_index.get(user, -1) for user in self.user_ids], dtype=np.int64)
        owners, columns = rows[self._owners], positions[self._codes]
        keep = (owners >= 0) & (columns >= 0)
        return sp.csr_matrix(
            (np.ones(int(keep.sum()), dtype=np.int8), (owners[keep], columns[keep])),
            shape=(len(user_index), n_items),
        )


def whole_history_rows(
    users: npt.NDArray[np.intp], rows: UserRows, user_ids: Sequence[str]
) -> InteractionRows:
    """Every user's rows as the filter evaluator's columns, sharing the history's arrays."""
    return InteractionRows(
        {
            "USER_ID": CodedText(users, user_ids),
            "ITEM_ID": CodedText(rows.item_codes, rows.item_ids),
            "EVENT_TYPE": CodedText(rows.event_type_codes, rows.event_types),
            "EVENT_VALUE": rows.event_values,
            "TIMESTAMP": rows.timestamps,
        }
    )
