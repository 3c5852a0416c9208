from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from srs.engine.ease import (
    SYMMETRISE_BLOCK,
    cholesky_inverse,
    ease_weights,
    ease_weights_from_rows,
    mirror_lower_to_upper,
    regularisation,
    rows_are_cheaper,
)
from srs.engine.errors import EngineError


def reference_ease(gram: np.ndarray, l2: float, diag_weight: float) -> np.ndarray:
    diagonal = np.diag(gram)
    precision = np.linalg.inv(gram + np.diag(l2 * diagonal.mean() + diag_weight * diagonal))
    weights: np.ndarray = -precision / np.diag(precision)[np.newaxis, :]
    np.fill_diagonal(weights, 0.0)
    return weights


def random_gram(seed: int, users: int = 200, items: int = 30) -> np.ndarray:
    rng = np.random.default_rng(seed)
    interactions = (rng.random((users, items)) < 0.2) * rng.integers(1, 4, (users, items))
    return (interactions.T @ interactions).astype(np.float64)


@pytest.mark.parametrize(("l2", "diag_weight"), [(0.5, 0.0), (2.0, 1.5)])
def test_ease_weights_match_the_closed_form(l2: float, diag_weight: float) -> None:
    gram = random_gram(0)
    expected = reference_ease(gram, l2, diag_weight)
    result = ease_weights(gram.copy(), l2, diag_weight)
    np.testing.assert_allclose(result, expected, atol=1e-10)
    assert np.all(np.diag(result) == 0.0)


def test_float32_weights_are_computed_in_place_and_close_to_float64() -> None:
    gram64 = random_gram(1)
    gram32 = gram64.astype(np.float32)
    result = ease_weights(gram32, 1.0, 0.5)
    assert result.dtype == np.float32
    assert np.shares_memory(result, gram32)
    np.testing.assert_allclose(result, reference_ease(gram64, 1.0, 0.5), atol=1e-5)


def test_only_the_lower_triangle_of_the_gram_matrix_is_read() -> None:
    gram = random_gram(2)
    scrambled = gram.copy()
    scrambled[np.triu_indices_from(scrambled, 1)] = -999.0
    np.testing.assert_allclose(ease_weights(scrambled, 1.0, 0.0), reference_ease(gram, 1.0, 0.0))


def test_cholesky_inverse_inverts_a_positive_definite_matrix() -> None:
    rng = np.random.default_rng(3)
    factor = rng.standard_normal((40, 40))
    matrix = factor @ factor.T + 40 * np.eye(40)
    np.testing.assert_allclose(cholesky_inverse(matrix.copy()), np.linalg.inv(matrix), atol=1e-12)


def test_a_matrix_that_is_not_positive_definite_is_refused() -> None:
    with pytest.raises(EngineError, match="not positive definite"):
        ease_weights(-np.eye(4), 0.5, 0.0)


def test_regularisation_is_relative_to_the_mean_diagonal() -> None:
    assert regularisation(np.array([2.0, 4.0]), 0.5, 1.0).tolist() == [3.5, 5.5]
    assert regularisation(np.array([0.0, 0.0]), 0.5, 1.0).tolist() == [0.5, 0.5]


def test_scaling_every_event_weight_leaves_the_model_unchanged() -> None:
    gram = random_gram(4)
    np.testing.assert_allclose(
        ease_weights(gram.copy(), 1.0, 0.5), ease_weights(9.0 * gram, 1.0, 0.5), atol=1e-10
    )


def test_mirroring_spans_several_blocks() -> None:
    size = SYMMETRISE_BLOCK * 2 + 37
    lower = np.tril(np.random.default_rng(5).random((size, size)))
    matrix = lower.copy()
    mirror_lower_to_upper(matrix)
    np.testing.assert_array_equal(matrix, lower + np.tril(lower, -1).T)


def wide_rows(seed: int, users: int = 40, items: int = 120) -> sp.csr_matrix:
    rng = np.random.default_rng(seed)
    values = (rng.random((users, items)) < 0.1) * rng.integers(1, 4, (users, items))
    return sp.csr_matrix(values.astype(np.float64))


@pytest.mark.parametrize(("l2", "diag_weight"), [(0.5, 0.0), (2.0, 1.5), (0.05, 4.0)])
def test_the_woodbury_route_gives_the_weights_of_the_gram_route(
    l2: float, diag_weight: float
) -> None:
    rows = wide_rows(4)
    gram = (rows.T @ rows).toarray()
    np.testing.assert_allclose(
        ease_weights_from_rows(rows, l2, diag_weight),
        reference_ease(gram, l2, diag_weight),
        atol=1e-10,
    )


def test_the_woodbury_route_in_float32_stays_close() -> None:
    rows = wide_rows(5)
    result = ease_weights_from_rows(rows, 1.0, 1.0, np.float32)
    assert result.dtype == np.float32
    assert np.all(np.diag(result) == 0.0)
    np.testing.assert_allclose(
        result, reference_ease((rows.T @ rows).toarray(), 1.0, 1.0), atol=1e-5
    )


def test_wide_sparse_data_takes_the_row_route_and_tall_data_the_gram_route() -> None:
    assert rows_are_cheaper(3_000, 17_000, 270_000)
    assert not rows_are_cheaper(12_000, 5_000, 130_000)
    assert not rows_are_cheaper(943, 1_682, 100_000)


@pytest.mark.parametrize(("l2", "diag_weight"), [(0.5, 0.0), (2.0, 1.5)])
def test_items_nothing_touches_get_zero_weights_and_leave_the_others_unchanged(
    l2: float, diag_weight: float
) -> None:
    touched = random_gram(5)
    rng = np.random.default_rng(5)
    order = rng.permutation(touched.shape[0] * 4)
    catalogue = np.zeros((order.size, order.size))
    placed = np.sort(order[: touched.shape[0]])
    catalogue[np.ix_(placed, placed)] = touched
    # The ridge is relative to the whole catalogue's mean diagonal, untouched items included.
    scale = np.diag(catalogue).mean() / np.diag(touched).mean()
    expected = np.zeros_like(catalogue)
    expected[np.ix_(placed, placed)] = reference_ease(touched, l2 * scale, diag_weight)

    result = ease_weights(catalogue.copy(), l2, diag_weight)

    np.testing.assert_allclose(result, expected, atol=1e-10)
    untouched = np.setdiff1d(np.arange(order.size), placed)
    assert not result[untouched].any() and not result[:, untouched].any()


def test_a_catalogue_nothing_touches_has_zero_weights() -> None:
    assert not ease_weights(np.zeros((6, 6)), 1.0, 1.0).any()
