"""Metric definitions checked against hand-computed cases, including Personalize's examples."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from srs.engine.evaluation.metrics import (
    PERSONALIZE_METRICS,
    average_precision,
    coverage,
    hit_matrix,
    ndcg_at_k,
    personalize_metrics,
    precision_at_k,
    ranked_hits,
    recall_at_k,
    reciprocal_rank_at_k,
    recommenders_metrics,
)


def test_personalize_worked_example_relevant_at_positions_2_and_5() -> None:
    """Amazon Personalize docs, "Evaluating a solution version": K = 5, the second and fifth
    recommendations match the user's test data (two relevant items)."""
    hits = ranked_hits(["a", "b", "c", "d", "e"], {"b", "e"})[np.newaxis, :]
    relevant = np.array([2])
    assert reciprocal_rank_at_k(hits, 25)[0] == pytest.approx(0.5)
    assert ndcg_at_k(hits, relevant, 5)[0] == pytest.approx(0.6241, abs=5e-5)
    expected = (1 / np.log(3) + 1 / np.log(6)) / (1 / np.log(2) + 1 / np.log(3))
    assert ndcg_at_k(hits, relevant, 5)[0] == pytest.approx(expected)
    assert precision_at_k(hits, 5)[0] == pytest.approx(0.4)


def test_mean_reciprocal_rank_example_first_hits_at_4_2_and_6() -> None:
    hits = np.zeros((3, 25), dtype=bool)
    hits[0, 3] = hits[1, 1] = hits[1, 4] = hits[2, 5] = True
    result = reciprocal_rank_at_k(hits, 25).mean()
    assert result == pytest.approx((1 / 4 + 1 / 2 + 1 / 6) / 3)
    assert round(result, 4) == 0.3056


def test_a_hit_beyond_the_cutoff_does_not_count() -> None:
    hits = np.zeros((1, 30), dtype=bool)
    hits[0, 26] = True
    assert reciprocal_rank_at_k(hits, 25)[0] == 0.0
    assert precision_at_k(hits, 25)[0] == 0.0


def test_full_map_divides_by_all_relevant_items_not_by_k() -> None:
    hits = np.zeros((2, 10), dtype=bool)
    hits[0, [0, 2]] = True  # precision 1/1 and 2/3 at the hits; 4 relevant items
    hits[1, [1]] = True  # precision 1/2; 20 relevant items (more than k)
    relevant = np.array([4, 20])
    ap = average_precision(hits, relevant, 10)
    assert ap.tolist() == pytest.approx([(1 + 2 / 3) / 4, 0.5 / 20])
    assert recommenders_metrics(hits, relevant)["map"] == pytest.approx(ap.mean())


def test_recall_precision_and_ideal_dcg_with_more_relevant_items_than_k() -> None:
    hits = np.zeros((1, 10), dtype=bool)
    hits[0, :2] = True
    assert recall_at_k(hits, np.array([4]), 10)[0] == pytest.approx(0.5)
    assert precision_at_k(hits, 10)[0] == pytest.approx(0.2)
    discounts = 1 / np.log2(np.arange(2, 12))
    expected = discounts[:2].sum() / discounts.sum()
    assert ndcg_at_k(hits, np.array([40]), 10)[0] == pytest.approx(expected)


def test_a_user_without_hits_scores_zero_everywhere() -> None:
    hits = np.zeros((1, 25), dtype=bool)
    relevant = np.array([3])
    for value in (
        ndcg_at_k(hits, relevant, 10)[0],
        reciprocal_rank_at_k(hits, 25)[0],
        average_precision(hits, relevant, 10)[0],
    ):
        assert value == 0.0


def test_hit_matrix_looks_up_positions_and_ignores_padding() -> None:
    relevant = sp.csr_matrix(np.array([[0, 1, 0, 1], [1, 0, 0, 0]], dtype=np.float32))
    recommended = np.array([[3, 0, -1], [2, 0, 1]])
    assert hit_matrix(recommended, relevant).tolist() == [
        [True, False, False],
        [False, True, False],
    ]


def test_coverage_counts_distinct_recommended_items_over_the_catalogue() -> None:
    assert coverage(np.array([[0, 1, -1], [1, 2, -1]]), 10) == pytest.approx(0.3)


def test_personalize_metrics_carry_exactly_personalize_s_names() -> None:
    recommended = np.tile(np.arange(25), (2, 1))
    hits = np.zeros((2, 25), dtype=bool)
    hits[0, 0] = True
    result = personalize_metrics(recommended, hits, np.array([1, 1]), 50)
    assert tuple(result) == PERSONALIZE_METRICS
    assert result["coverage"] == pytest.approx(0.5)
    assert result["mean_reciprocal_rank_at_25"] == pytest.approx(0.5)
    assert result["precision_at_5"] == pytest.approx(0.1)
