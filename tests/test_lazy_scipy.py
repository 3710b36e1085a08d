"""scipy's solvers, imported when first needed and under one lock (toyflow.lazy_scipy)."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from toyflow import lazy_scipy


def test_the_assignment_is_the_optimal_permutation():
    perm = np.array([2, 0, 3, 1])
    cost = np.ones((4, 4))
    cost[np.arange(4), perm] = 0.0  # row i costs nothing only at column perm[i]
    assert lazy_scipy.assignment(cost).tolist() == perm.tolist()


def test_the_kd_tree_finds_the_nearest_point():
    tree = lazy_scipy.kd_tree(np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 2.0]]))
    distance, index = tree.query(np.array([[0.9, 0.2], [0.1, 1.5]]))
    assert index.tolist() == [1, 2]
    np.testing.assert_allclose(distance, [np.hypot(0.1, 0.2), np.hypot(0.1, 0.5)])


@pytest.mark.parametrize(
    ("solver", "argument"),
    [(lazy_scipy.kd_tree, np.zeros((1, 2))), (lazy_scipy.assignment, np.zeros((2, 2)))],
    ids=["kd_tree", "assignment"],
)
def test_a_solver_waits_while_another_thread_imports(solver, argument):
    """Both take the import lock, so that two threads never import scipy's packages at once."""
    done = threading.Event()
    worker = threading.Thread(target=lambda: (solver(argument), done.set()))
    with lazy_scipy._IMPORTING:  # as a first import on another thread would hold it
        worker.start()
        assert not done.wait(0.2), f"{solver.__name__} ran while another thread held the import lock"
    assert done.wait(30)
    worker.join()
