"""Blend weights: z-scores, candidate lists, the listwise fit, l2 by CV, and the nDCG of a blend."""

from __future__ import annotations

import math

import numpy as np
import pytest

from srs.engine.errors import HyperparameterError
from srs.engine.evaluation.blending import (
    Candidates,
    candidates,
    choose_weights,
    fit_weights,
    ndcg_of_blend,
)
from srs.engine.zscores import zscore_unseen

PLANTED = np.array([1.5, -1.0, 0.5])
"""True weights of the three useful features of :func:`planted`; a fourth feature is noise."""


def planted(users: int = 300, width: int = 30, relevant: int = 3, seed: int = 1) -> Candidates:
    """Candidates whose relevant items are a Plackett-Luce draw (Gumbel top-k) from the planted
    linear score — the generative model a listwise softmax assumes."""
    rng = np.random.default_rng(seed)
    features = rng.normal(size=(users, width, 4))
    features[:, :, 0] += 0.5 * features[:, :, 1]
    utility = features[:, :, :3] @ PLANTED + rng.gumbel(size=(users, width))
    top = np.argsort(-utility, axis=1)[:, :relevant]
    is_relevant = np.zeros((users, width), dtype=bool)
    np.put_along_axis(is_relevant, top, True, axis=1)
    return Candidates(
        features=features,
        relevant=is_relevant,
        valid=np.ones((users, width), dtype=bool),
        n_relevant=np.full(users, relevant + 1, dtype=np.int64),
    )


def with_features(c: Candidates, features: np.ndarray) -> Candidates:
    return Candidates(features, c.relevant, c.valid, c.n_relevant)


def test_zscore_unseen_by_hand() -> None:
    scores = np.array(
        [
            [1.0, 2.0, 3.0, 100.0],
            [5.0, 5.0, 5.0, 1.0],
            [7.0, 8.0, 9.0, 10.0],
            [0.1, 0.1, 0.1, 0.1],
            [4.0, -np.inf, 2.0, 9.0],
        ]
    )
    seen = np.array(
        [
            [False, False, False, True],
            [False, False, False, True],
            [True, True, True, True],
            [False, False, False, False],
            [False, True, False, True],
        ]
    )
    z = zscore_unseen(scores, seen)
    spread = math.sqrt(2 / 3)
    np.testing.assert_allclose(z[0], [-1 / spread, 0.0, 1 / spread, 98 / spread])
    np.testing.assert_array_equal(z[1:4], 0.0)
    np.testing.assert_allclose(z[4], [1.0, 0.0, -1.0, 6.0])  # the seen -inf becomes 0


def test_zscore_unseen_one_row_and_single_unseen_item() -> None:
    row = zscore_unseen(np.array([2.0, 4.0, 50.0]), np.array([False, False, True]))
    assert row.shape == (3,)
    np.testing.assert_allclose(row, [-1.0, 1.0, 47.0])
    lonely = zscore_unseen(np.array([2.0, 4.0, 50.0]), np.array([True, False, True]))
    np.testing.assert_array_equal(lonely, 0.0)


def test_candidates_top_unseen_stable_ties_and_padding() -> None:
    generator = np.array(
        [
            [0.5, 0.9, 0.5, 0.1, 0.5, 0.9],
            [3.0, 2.0, 1.0, 0.0, 5.0, 4.0],
        ]
    )
    seen = np.array(
        [
            [False, True, False, False, False, False],
            [True, True, True, True, False, False],
        ]
    )
    relevant = np.zeros_like(seen)
    relevant[0, 4] = True
    relevant[1, 5] = True
    position = np.broadcast_to(np.arange(6.0), (2, 6))
    user = np.broadcast_to(np.arange(2.0)[:, None] * 10, (2, 6))
    c = candidates(
        generator,
        [position + user, -position],
        seen,
        relevant,
        np.array([2, 1]),
        count=4,
    )
    chosen = np.array([[5, 0, 2, 4], [4, 5, 0, 1]])
    np.testing.assert_array_equal(c.valid, [[True] * 4, [True, True, False, False]])
    np.testing.assert_array_equal(c.features[0, :, 0], chosen[0])
    np.testing.assert_array_equal(c.features[0, :, 1], -chosen[0])
    np.testing.assert_array_equal(c.features[1, :2, 0], chosen[1, :2] + 10)
    np.testing.assert_array_equal(c.features[1, 2:], 0.0)
    np.testing.assert_array_equal(
        c.relevant, [[False, False, False, True], [False, True] + [False] * 2]
    )
    np.testing.assert_array_equal(c.n_relevant, [2, 1])


def test_candidates_ties_at_the_cut_go_to_the_lowest_positions() -> None:
    generator = np.array([[1.0, 2.0, 1.0, 1.0, 1.0, 1.0, 1.0]])
    seen = np.zeros_like(generator, dtype=bool)
    seen[0, 2] = True
    c = candidates(generator, [np.arange(7.0)[None, :]], seen, seen, np.array([0]), count=3)
    np.testing.assert_array_equal(c.features[0, :, 0], [1, 0, 3])


def test_candidates_count_beyond_the_catalogue_keeps_every_item() -> None:
    generator = np.array([[0.2, 0.8, 0.5]])
    seen = np.array([[False, False, True]])
    c = candidates(generator, [np.arange(3.0)[None, :]], seen, ~seen, np.array([2]), count=10)
    assert c.features.shape == (1, 3, 1)
    np.testing.assert_array_equal(c.features[0, :, 0], [1, 0, 0])
    np.testing.assert_array_equal(c.valid, [[True, True, False]])


def test_fit_weights_recovers_a_planted_signal() -> None:
    c = planted()
    weights = fit_weights(c, 0.001)
    useful, noise = weights[:3], weights[3]
    np.testing.assert_array_equal(np.sign(useful), np.sign(PLANTED))
    np.testing.assert_array_equal(np.argsort(np.abs(useful)), np.argsort(np.abs(PLANTED)))
    assert abs(noise) < 0.1 * np.abs(useful).max()
    cosine = weights[:3] @ PLANTED / (np.linalg.norm(weights) * np.linalg.norm(PLANTED))
    assert cosine > 0.98


def test_fit_weights_apply_to_raw_features() -> None:
    c = planted()
    scaled = c.features.copy()
    scaled[:, :, 1] = scaled[:, :, 1] * 1000.0 + 7.0
    base = fit_weights(c, 0.01)
    rescaled = fit_weights(with_features(c, scaled), 0.01)
    np.testing.assert_allclose(rescaled, base * np.array([1, 1e-3, 1, 1]), rtol=1e-4)


def test_constant_feature_gets_zero_weight_and_changes_nothing_else() -> None:
    c = planted()
    extended = np.concatenate([c.features, np.full((*c.features.shape[:2], 1), 0.1)], axis=2)
    weights = fit_weights(with_features(c, extended), 0.01)
    assert weights[4] == 0.0
    np.testing.assert_allclose(weights[:4], fit_weights(c, 0.01), rtol=1e-6)


def test_fit_weights_ignores_padding_and_users_without_relevant_candidates() -> None:
    c = planted(users=200)
    garbage = c.features.copy()
    valid = c.valid.copy()
    valid[:, -5:] = False
    garbage[:, -5:] = 1e6
    relevant = c.relevant & valid
    relevant[:50] = False
    padded = Candidates(garbage, relevant, valid, c.n_relevant)
    kept = Candidates(c.features[50:, :-5], relevant[50:, :-5], valid[50:, :-5], c.n_relevant[50:])
    # l2 = 0: the dropped users' cells still enter the standardisation, which then cancels out.
    np.testing.assert_allclose(fit_weights(padded, 0.0), fit_weights(kept, 0.0), rtol=1e-4)


def test_stronger_l2_shrinks_the_weights() -> None:
    c = planted()
    assert np.linalg.norm(fit_weights(c, 1.0)) < 0.5 * np.linalg.norm(fit_weights(c, 0.001))


def test_choose_weights_takes_the_best_cv_l2_and_beats_every_single_feature() -> None:
    c = planted()
    grid = (0.001, 0.3, 30.0)
    choice = choose_weights(c, grid, folds=3, seed=5)
    assert set(choice.cv_by_l2) == set(grid)
    assert len(set(choice.cv_by_l2.values())) > 1
    assert choice.l2 == max(choice.cv_by_l2, key=choice.cv_by_l2.__getitem__)
    assert choice.cv_ndcg == choice.cv_by_l2[choice.l2]
    np.testing.assert_allclose(choice.weights, fit_weights(c, choice.l2))
    blend = ndcg_of_blend(c, choice.weights)
    for feature, sign in enumerate(np.sign(PLANTED)):
        alone = np.zeros(4)
        alone[feature] = sign
        assert blend > ndcg_of_blend(c, alone) + 0.02
    again = choose_weights(c, grid, folds=3, seed=5)
    assert again.cv_by_l2 == choice.cv_by_l2
    np.testing.assert_array_equal(again.weights, choice.weights)


def test_choose_weights_single_grid_value() -> None:
    choice = choose_weights(planted(users=60), (0.05,))
    assert choice.l2 == 0.05
    assert list(choice.cv_by_l2) == [0.05]
    assert 0.0 < choice.cv_ndcg <= 1.0


def test_ndcg_of_blend_by_hand() -> None:
    c = Candidates(
        features=np.array([[[0.1], [0.9], [0.5]], [[0.2], [0.2], [0.0]], [[1.0], [2.0], [3.0]]]),
        relevant=np.array([[True, False, True], [False, True, False], [False, False, False]]),
        valid=np.array([[True, True, True], [True, True, False], [True, True, True]]),
        n_relevant=np.array([3, 1, 0]),
    )
    first = (1 / math.log2(3) + 1 / math.log2(4)) / (1 + 1 / math.log2(3) + 1 / math.log2(4))
    second = 1 / math.log2(3)
    assert ndcg_of_blend(c, np.array([1.0])) == pytest.approx((first + second) / 2)
    flipped_first = (1 + 1 / math.log2(3)) / (1 + 1 / math.log2(3) + 1 / math.log2(4))
    flipped_second = 1 / math.log2(3)
    assert ndcg_of_blend(c, np.array([-1.0])) == pytest.approx((flipped_first + flipped_second) / 2)
    assert ndcg_of_blend(c, np.array([1.0]), k=1) == pytest.approx(0.0)


GOOD = planted(users=20, width=5)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda: zscore_unseen(np.zeros((2, 3)), np.zeros((2, 4), bool)),
            r"seen has shape \(2, 4\)",
        ),
        (
            lambda: zscore_unseen(np.array([1.0, np.nan]), np.zeros(2, bool)),
            r"non-finite value at row 0, column 1",
        ),
        (
            lambda: candidates(
                np.zeros((2, 3)),
                [np.zeros((2, 3))],
                np.zeros((2, 3), bool),
                np.zeros((2, 3), bool),
                np.zeros(2, np.int64),
                count=0,
            ),
            r"count must be at least 1, got 0",
        ),
        (
            lambda: candidates(
                np.zeros((2, 3)),
                [np.zeros((2, 3)), np.zeros((3, 3))],
                np.zeros((2, 3), bool),
                np.zeros((2, 3), bool),
                np.zeros(2, np.int64),
            ),
            r"features\[1\] has shape \(3, 3\) but generator has shape \(2, 3\)",
        ),
        (
            lambda: candidates(
                np.zeros((2, 3)),
                [np.zeros((2, 3))],
                np.zeros((2, 3), bool),
                np.zeros((2, 2), bool),
                np.zeros(2, np.int64),
            ),
            r"relevant has shape \(2, 2\) but generator has shape \(2, 3\)",
        ),
        (
            lambda: candidates(
                np.zeros((2, 3)),
                [np.zeros((2, 3))],
                np.zeros((2, 3), bool),
                np.zeros((2, 3), bool),
                np.zeros(3, np.int64),
            ),
            r"n_relevant has shape \(3,\)",
        ),
        (
            lambda: candidates(
                np.zeros((2, 3)),
                [np.full((2, 3), np.inf)],
                np.zeros((2, 3), bool),
                np.zeros((2, 3), bool),
                np.zeros(2, np.int64),
            ),
            r"features\[0\] has a non-finite value for a candidate of user 0",
        ),
        (
            lambda: Candidates(
                np.zeros((2, 3, 1)),
                np.zeros((2, 4), bool),
                np.ones((2, 3), bool),
                np.zeros(2, np.int64),
            ),
            r"relevant has shape \(2, 4\) but features\[:, :, 0\] has shape \(2, 3\)",
        ),
        (
            lambda: Candidates(
                np.zeros((1, 3, 1)), np.ones((1, 3), bool), np.ones((1, 3), bool), np.array([2])
            ),
            r"n_relevant\[0\] = 2 is below that user's 3 relevant candidates",
        ),
        (lambda: fit_weights(GOOD, -1.0), r"l2 must be a finite number >= 0, got -1.0"),
        (
            lambda: fit_weights(
                Candidates(
                    GOOD.features, np.zeros_like(GOOD.relevant), GOOD.valid, GOOD.n_relevant
                ),
                0.1,
            ),
            r"no user has a relevant candidate",
        ),
        (lambda: choose_weights(GOOD, ()), r"l2_grid is empty"),
        (lambda: choose_weights(GOOD, folds=1), r"folds must be at least 2, got 1"),
        (lambda: choose_weights(GOOD, folds=50), r"20 users have a relevant candidate"),
        (lambda: ndcg_of_blend(GOOD, np.ones(3)), r"weights has shape \(3,\)"),
        (lambda: ndcg_of_blend(GOOD, np.ones(4), k=0), r"k must be at least 1, got 0"),
    ],
)
def test_bad_input_raises_naming_the_problem(call: object, message: str) -> None:
    assert callable(call)
    with pytest.raises(HyperparameterError, match=message):
        call()
