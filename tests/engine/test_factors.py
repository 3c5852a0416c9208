from __future__ import annotations

import itertools
import math
from dataclasses import replace
from typing import Any

import numpy as np
import pytest
import scipy.sparse as sp

from srs.engine.errors import HyperparameterError, InteractionsError, InvalidRequestError
from srs.engine.factors import (
    FactorSettings,
    HalfEpoch,
    ItemFactors,
    _solve_positive_definite,
    fit_factors,
    fit_item_factors,
    ials_loss,
    regularisation,
)

GROUP_USERS = 40
GROUP_ITEMS = 20
SMALL = FactorSettings(dim=8, l2=0.5, epochs=6)
"""A ridge strong enough for 80 users: the default l2 is tuned for MovieLens-sized data."""


def planted_matrix(seed: int = 0) -> sp.csr_matrix:
    """Users 0..39 touch only items 0..19 (group A), users 40..79 only items 20..39 (group B)."""
    rng = np.random.default_rng(seed)
    dense = np.zeros((2 * GROUP_USERS, 2 * GROUP_ITEMS))
    for group in range(2):
        users = slice(group * GROUP_USERS, (group + 1) * GROUP_USERS)
        items = slice(group * GROUP_ITEMS, (group + 1) * GROUP_ITEMS)
        chosen = rng.random((GROUP_USERS, GROUP_ITEMS)) < 0.3
        dense[users, items] = chosen * rng.choice([0.5, 1.0, 1.5], size=chosen.shape)
    return sp.csr_matrix(dense)


def group_of_item(item: int) -> int:
    return item // GROUP_ITEMS


def model_of(matrix: sp.csr_matrix, settings: FactorSettings = SMALL) -> ItemFactors:
    return ItemFactors(
        fit_item_factors(matrix, settings),
        settings.unobserved_weight,
        settings.l2,
        settings.exponent,
    )


def history(matrix: sp.csr_matrix, user: int) -> tuple[np.ndarray, np.ndarray]:
    row = matrix.getrow(user)
    return row.indices.astype(np.int64), row.data.astype(np.float64)


def test_planted_groups_recommend_their_own_unseen_items() -> None:
    matrix = planted_matrix()
    model = model_of(matrix)
    for user in range(matrix.shape[0]):
        items, values = history(matrix, user)
        scores = model.scores(items, values)
        scores[items] = -np.inf
        top = np.argsort(-scores)[:3]
        assert {group_of_item(int(item)) for item in top} == {user // GROUP_USERS}


def test_ials_loss_matches_a_dense_evaluation_of_the_objective() -> None:
    matrix = planted_matrix()
    rng = np.random.default_rng(3)
    users = rng.standard_normal((matrix.shape[0], 4))
    items = rng.standard_normal((matrix.shape[1], 4))
    settings = FactorSettings(dim=4, unobserved_weight=0.2, l2=0.1, exponent=0.5)
    dense = matrix.toarray()
    observed = dense != 0
    predictions = users @ items.T
    user_ridge = 0.1 * (observed.sum(axis=1) + 0.2 * matrix.shape[1]) ** 0.5
    item_ridge = 0.1 * (observed.sum(axis=0) + 0.2 * matrix.shape[0]) ** 0.5
    expected = (
        np.sum(((dense - predictions) ** 2)[observed])
        + 0.2 * np.sum(predictions**2)
        + user_ridge @ np.sum(users**2, axis=1)
        + item_ridge @ np.sum(items**2, axis=1)
    )
    assert ials_loss(matrix, users, items, settings) == pytest.approx(expected, rel=1e-12)


def test_training_loss_decreases_every_epoch() -> None:
    matrix = planted_matrix()
    settings = FactorSettings(dim=8)
    losses = [
        ials_loss(matrix, *fit_factors(matrix, replace(settings, epochs=epochs)), settings)
        for epochs in range(1, 7)
    ]
    assert all(later < earlier for earlier, later in itertools.pairwise(losses))
    loss_of_zero_factors = float(np.sum(matrix.data**2))
    assert losses[-1] < 0.5 * loss_of_zero_factors


def test_stored_zeros_are_not_interactions_in_training() -> None:
    matrix = planted_matrix()
    with_zeros = matrix.copy()
    with_zeros.data[::7] = 0.0
    without = with_zeros.copy()
    without.eliminate_zeros()
    assert with_zeros.nnz > without.nnz
    np.testing.assert_array_equal(
        fit_item_factors(with_zeros, SMALL), fit_item_factors(without, SMALL)
    )


def reference_system(
    model: ItemFactors, items: np.ndarray, values: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    factors = model.factors.astype(np.float64)
    rows = factors[items]
    ridge = model.l2 * (len(items) + model.unobserved_weight * len(factors)) ** model.exponent
    system = (
        model.unobserved_weight * factors.T @ factors + ridge * np.eye(model.dim) + rows.T @ rows
    )
    return system, rows.T @ values


def test_user_vector_solves_the_normal_equations_and_minimises_the_users_loss() -> None:
    matrix = planted_matrix()
    model = model_of(matrix, FactorSettings(dim=8, exponent=0.7))
    items, values = history(matrix, 5)
    vector = model.user_vector(items, values)
    system, rhs = reference_system(model, items, values)
    assert np.linalg.norm(system @ vector - rhs) <= 1e-10 * np.linalg.norm(rhs)

    factors = model.factors.astype(np.float64)
    ridge = model.l2 * (len(items) + model.unobserved_weight * len(factors)) ** model.exponent
    stacked = np.vstack(
        [factors[items], math.sqrt(model.unobserved_weight) * factors, math.sqrt(ridge) * np.eye(8)]
    )
    targets = np.concatenate([values, np.zeros(len(factors) + 8)])
    brute_force = np.linalg.lstsq(stacked, targets, rcond=None)[0]
    np.testing.assert_allclose(vector, brute_force, rtol=1e-8, atol=1e-12)


def test_fold_in_is_the_converged_user_half_step_of_training() -> None:
    matrix = planted_matrix()
    settings = FactorSettings(dim=8, epochs=3)
    item_factors = fit_item_factors(matrix, settings).astype(np.float64)
    model = ItemFactors(item_factors, settings.unobserved_weight, settings.l2, settings.exponent)
    half_step = HalfEpoch.of(sp.csr_matrix(matrix, dtype=np.float32), matrix.shape[1], settings)
    converged = half_step.solve(np.zeros((matrix.shape[0], 8)), item_factors, steps=40)
    folded = np.stack([model.user_vector(*history(matrix, user)) for user in range(80)])
    np.testing.assert_allclose(converged, folded, rtol=1e-4, atol=1e-6)


def test_dense_and_gathered_entry_products_give_the_same_half_step() -> None:
    matrix = sp.csr_matrix(planted_matrix(), dtype=np.float32)
    settings = FactorSettings(dim=8)
    rng = np.random.default_rng(3)
    rows = rng.standard_normal((matrix.shape[0], 8)).astype(np.float32)
    other = rng.standard_normal((matrix.shape[1], 8)).astype(np.float32)
    dense = HalfEpoch.of(matrix, matrix.shape[1], settings)
    gathered = replace(dense, dense_max_cells=0)
    assert dense.matrix.shape[0] * dense.matrix.shape[1] <= dense.dense_max_cells
    np.testing.assert_allclose(
        dense.solve(rows, other, steps=3),
        gathered.solve(rows, other, steps=3),
        rtol=1e-4,
        atol=1e-5,
    )


def test_zero_values_are_not_interactions_and_repeats_are_summed() -> None:
    model = model_of(planted_matrix())
    base = model.user_vector(np.array([1, 4, 7]), np.array([1.0, 0.6, 1.4]))
    with_zero = model.user_vector(np.array([1, 4, 7, 9]), np.array([1.0, 0.6, 1.4, 0.0]))
    repeated = model.user_vector(np.array([4, 1, 7, 4]), np.array([0.2, 1.0, 1.4, 0.4]))
    np.testing.assert_array_equal(with_zero, base)
    np.testing.assert_allclose(repeated, base, rtol=1e-12)
    assert not np.allclose(model.user_vector(np.array([1, 4, 7]), np.array([1.0, 1.0, 1.4])), base)


def test_empty_history_folds_in_to_zero() -> None:
    model = model_of(planted_matrix())
    empty = np.array([], dtype=np.int64)
    np.testing.assert_array_equal(model.user_vector(empty, np.array([])), np.zeros(8))
    np.testing.assert_array_equal(model.scores(empty, np.array([])), np.zeros(40))


def test_score_histories_agrees_with_scores_row_by_row_across_blocks() -> None:
    matrix = planted_matrix()
    model = model_of(matrix)
    duplicated = sp.csr_matrix(
        (np.array([0.5, 0.5, 1.0]), np.array([3, 3, 30]), np.array([0, 3])), shape=(1, 40)
    )
    histories = sp.vstack(
        [matrix[:7], sp.csr_matrix((1, 40)), matrix[50:56], duplicated], format="csr"
    )
    expected = np.stack(
        [model.scores(*history(histories, row)) for row in range(histories.shape[0] - 1)]
        + [model.scores(np.array([3, 30]), np.array([1.0, 1.0]))]
    )
    assert np.all(expected[7] == 0.0)
    for block_rows, block_floats in [(3, 1 << 20), (2048, 1 << 20), (2048, 1)]:
        batched = model.score_histories(histories, block_rows=block_rows, block_floats=block_floats)
        assert batched.shape == (15, 40)
        np.testing.assert_allclose(batched, expected, rtol=1e-8, atol=1e-12)


def test_contributions_sum_to_the_scores_of_the_targets() -> None:
    matrix = planted_matrix()
    model = model_of(matrix)
    items, values = history(matrix, 2)
    targets = np.array([0, 5, 19, 25, 39])
    shares = model.contributions(items, values, targets)
    assert shares.shape == (len(items), len(targets))
    np.testing.assert_allclose(
        shares.sum(axis=0), model.scores(items, values)[targets], rtol=1e-10, atol=1e-12
    )
    own_group = shares[:, targets < GROUP_ITEMS].sum(axis=0)
    other_group = shares[:, targets >= GROUP_ITEMS].sum(axis=0)
    assert own_group.min() > other_group.max()


def test_same_seed_reproduces_the_factors_and_another_seed_does_not() -> None:
    matrix = planted_matrix()
    first = fit_item_factors(matrix, SMALL)
    assert first.dtype == np.float32
    assert first.shape == (40, 8)
    np.testing.assert_array_equal(fit_item_factors(matrix, SMALL), first)
    other = fit_item_factors(matrix, replace(SMALL, seed=1))
    assert not np.allclose(other, first)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("dim", 0),
        ("unobserved_weight", -0.1),
        ("unobserved_weight", math.nan),
        ("l2", 0.0),
        ("l2", math.inf),
        ("exponent", math.nan),
        ("epochs", 0),
        ("cg_steps", 0),
        ("seed", -1),
    ],
)
def test_invalid_settings_name_the_field(field: str, value: float) -> None:
    settings: dict[str, Any] = {field: value}
    with pytest.raises(HyperparameterError, match=f"{field}={value!r}"):
        FactorSettings(**settings)


def test_bad_training_data_and_requests_say_what_is_wrong() -> None:
    negative = sp.csr_matrix(np.array([[1.0, 0.0], [0.0, -2.0]]))
    with pytest.raises(InteractionsError, match=r"row 1, column 1\) is -2\.0"):
        fit_item_factors(negative, SMALL)
    model = model_of(planted_matrix())
    with pytest.raises(InvalidRequestError, match="item position 40 is outside"):
        model.scores(np.array([1, 40]), np.array([1.0, 1.0]))
    with pytest.raises(InvalidRequestError, match="2 items but 1 values"):
        model.scores(np.array([1, 2]), np.array([1.0]))
    with pytest.raises(InvalidRequestError, match="40 items"):
        model.score_histories(sp.csr_matrix((2, 39)))


def test_similar_is_one_for_itself_and_highest_within_its_group() -> None:
    model = model_of(planted_matrix())
    for item in (0, 13, 27):
        similarity = model.similar(item)
        assert similarity[item] == pytest.approx(1.0, abs=1e-12)
        own = group_of_item(item) * GROUP_ITEMS
        others = np.r_[0:own, own + GROUP_ITEMS : 2 * GROUP_ITEMS]
        peers = np.setdiff1d(np.arange(own, own + GROUP_ITEMS), [item])
        assert similarity[peers].min() > similarity[others].max()


def test_similar_gives_zero_for_items_without_factors() -> None:
    factors = np.array([[1.0, 0.0], [0.0, 0.0], [2.0, 2.0]])
    model = ItemFactors(factors, 0.1, 0.1, 1.0)
    np.testing.assert_allclose(model.similar(0), [1.0, 0.0, math.sqrt(0.5)])
    np.testing.assert_array_equal(model.similar(1), np.zeros(3))


def test_regularisation_grows_with_activity_and_handles_an_empty_row_without_data() -> None:
    ridge = regularisation(np.array([0, 1, 10]), 100, 0.5, 0.1, 1.0)
    np.testing.assert_allclose(ridge, [5.0, 5.1, 6.0])
    np.testing.assert_allclose(regularisation(np.array([0]), 100, 0.0, 0.1, 1.0), [0.1])


def test_an_indefinite_system_still_gets_solved() -> None:
    system = np.array([[1.0, 0.0], [0.0, -2.0]])
    solution = _solve_positive_definite(system.copy(), np.array([3.0, 4.0]))
    np.testing.assert_allclose(solution, [3.0, -2.0])
