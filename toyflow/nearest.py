"""Exact nearest points for fixed sets of 2-D points, for many query points or clouds at once.

The judge asks the same few point sets (two templates, two noise-free curves) for the nearest point of hundreds of
thousands of points, and each template point for the nearest point of each of a thousand clouds. A k-d tree answers
in about a microsecond a query; this module answers the same questions, with the same distances and indices, in a
few tens of nanoseconds, in numpy:

- :class:`NearestGrid`, the nearest point of a set to any query point: a uniform grid of square cells over the set's
  bounding box (and a margin) keeps for each cell every point of the set that can be the nearest to some point of
  the cell (a handful, where cells are small next to the gaps between points). A query point measures only its
  cell's candidates (``sqrt(dx * dx + dy * dy)`` in float64, as the tree does) and takes the nearest; one outside
  the grid, or in a cell with too many candidates, is answered by the tree. The lists are built by refining a coarse
  grid: a cell keeps those of its parent's candidates whose half-plane of points nearer to them than to the point
  nearest the cell's centre meets the cell (a superset of the points whose Voronoi region meets it).
- :class:`NearestInClouds`, the nearest point of each cloud to each point of a set that samples a curve: the cloud
  points ranked along the curve next to a set point are measured, and the nearest of them is certified by bounds
  on the distance to every other cloud point (see the class).

:func:`map_chunks` runs work on cache-sized pieces of a batch on :data:`WORKERS` threads (numpy releases the GIL;
one by default).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, TypeVar

import numpy as np

from .lazy_scipy import kd_tree

if TYPE_CHECKING:
    from scipy.spatial import cKDTree

QUERY_CHUNK = 1 << 16  # query points measured together: few numpy calls, temporaries within the CPU's caches
_BUILD_CHUNK = 1 << 16  # (cell, candidate) pairs filtered together while building
# threads of map_chunks: 2 judge 1024 clouds in 0.09 s instead of 0.12 s on 2 idle cores, but a process keeps
# about 20 MiB more resident (a malloc arena per thread): one, for a preference session's peak memory
WORKERS = 1
_FEW = 256  # query points whose last candidates are measured all at once (fewer numpy calls, some padding)
_EPS = 1e-12  # slack for rounding in the filter: a candidate is dropped only when it is clearly out

T = TypeVar("T")


class NearestGrid:
    """Exact nearest point of ``points (m, 2)`` for query points ``(k, 2)``: the distances and indices of
    ``scipy.spatial.cKDTree(points).query`` (ties between equally near points aside).

    ``cell`` is the side of the grid's square cells; the grid covers the points' bounding box widened by
    ``margin`` on each side; a cell with more than ``max_candidates`` candidates is left to the tree.
    """

    def __init__(self, points: np.ndarray, cell: float, margin: float = 0.25, max_candidates: int = 64) -> None:
        pts = np.array(points, dtype=np.float64, copy=True)
        if pts.ndim != 2 or pts.shape[1] != 2 or not len(pts) or not np.isfinite(pts).all():
            raise ValueError(f"expected finite points of shape (m, 2), m >= 1; got shape {pts.shape}")
        if not cell > 0:
            raise ValueError(f"cell must be positive, got {cell}")
        self.points = pts
        self._x, self._y = pts[:, 0].copy(), pts[:, 1].copy()
        lo, hi = pts.min(axis=0) - margin, pts.max(axis=0) + margin
        # a coarse grid of cells about 0.3 wide (at least the final cell), refined by halving to the final cell
        levels = max(0, int(np.ceil(np.log2(0.3 / cell))))
        coarse = cell * 2**levels
        shape0 = np.maximum(1, np.ceil((hi - lo) / coarse)).astype(int)
        self.lo = lo
        self.cell = float(cell)
        self.shape = (int(shape0[0]) << levels, int(shape0[1]) << levels)
        segs = _build(self._x, self._y, lo, coarse, shape0, levels)
        ci, cj, lens, cand, centre = segs
        ids = ci * self.shape[1] + cj
        cells = self.shape[0] * self.shape[1]
        count = np.zeros(cells, np.int64)
        count[ids] = np.where(lens <= min(max_candidates, 255), lens, 0)
        start = np.zeros(cells, np.int64)
        start[ids] = np.cumsum(lens) - lens
        # float32 (half the memory); the bounds add the rounding to their slack
        self.centre_distance = np.zeros(cells, np.float32)
        self.centre_distance[ids] = centre
        self.candidates = cand.astype(np.int16 if len(pts) <= 1 << 15 else np.int32)  # small: fewer cache misses
        # one word a cell, one cache miss a query: its list's start, its count and its first candidate
        if len(cand) >= 1 << 32 or len(pts) >= 1 << 23:
            raise ValueError("too many points, or cells too small for them")
        self._cells = start | (count << 32) | (self.candidates.take(start).astype(np.int64) << 40)
        self.half_diagonal = float(np.sqrt(0.5)) * self.cell
        self._tree: cKDTree | None = None

    @property
    def count(self) -> np.ndarray:
        """Each cell's number of candidates ``(cells,)``; 0 for a cell left to the tree."""
        return (self._cells >> 32) & 0xFF

    @property
    def tree(self) -> cKDTree:
        """The k-d tree of the points, for the query points the grid leaves (built when first needed)."""
        if self._tree is None:
            self._tree = kd_tree(self.points)
        return self._tree

    def cells_of(self, query: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(cell, inside)`` of query points ``(k, 2)``: each one's cell index ``(k,)`` (0 where outside) and whether
        it lies in the grid ``(k,)`` (false for a non-finite point)."""
        q = np.asarray(query, dtype=np.float64)
        fx = np.subtract(q[:, 0], self.lo[0])
        fx *= 1.0 / self.cell
        fy = np.subtract(q[:, 1], self.lo[1])
        fy *= 1.0 / self.cell
        if len(q) and min(fx.min(), fy.min()) >= 0 and fx.max() < self.shape[0] and fy.max() < self.shape[1]:
            inside = np.ones(len(q), bool)  # all inside (no NaN either: it fails every comparison)
        else:
            inside = (fx >= 0) & (fx < self.shape[0]) & (fy >= 0) & (fy < self.shape[1])
            fx[~inside] = 0
            fy[~inside] = 0
        cell = fx.astype(np.int64)
        cell *= self.shape[1]
        cell += fy.astype(np.int64)
        return cell, inside

    def bounds(self, query: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(lower, upper)``: bounds ``(k,)`` on each query point's distance to the nearest point, from its cell
        alone (outside the grid: the distance to the points' bounding box, and inf). A few operations a point, for a
        sum or a maximum that needs exact distances only where the bounds leave it open."""
        q = np.asarray(query, dtype=np.float64)
        cell, inside = self.cells_of(q)
        centre = self.centre_distance.take(cell).astype(np.float64)
        slack = centre * 2.0**-22  # float32 rounds by at most 2^-24 of it
        slack += self.half_diagonal * (1 + 1e-9) + _EPS
        lower = np.subtract(centre, slack)
        np.maximum(lower, 0.0, out=lower)
        upper = np.add(centre, slack, out=slack)
        if not inside.all():  # outside: at least as far as the points' bounding box
            out = q[~inside]
            gap = np.maximum(np.maximum(self.points.min(axis=0) - out, out - self.points.max(axis=0)), 0.0)
            lower[~inside] = np.nan_to_num(np.sqrt((gap * gap).sum(axis=1)) * (1 - 1e-9), nan=0.0)
            upper[~inside] = np.inf
        return lower, upper

    def query(self, query: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(distance, index)`` of the nearest point to each query point ``(k, 2)``: float64 ``(k,)`` and int64
        ``(k,)``, as ``cKDTree.query`` gives them. A non-finite query point gets ``inf`` and index ``m`` (the tree's
        mark of a missing neighbour)."""
        q = np.asarray(query, dtype=np.float64).reshape(-1, 2)
        dist = np.empty(len(q))
        idx = np.empty(len(q), np.int64)
        for s in range(0, len(q), QUERY_CHUNK):
            self._query_chunk(q[s : s + QUERY_CHUNK], dist[s : s + QUERY_CHUNK], idx[s : s + QUERY_CHUNK])
        return dist, idx

    def _query_chunk(self, q: np.ndarray, dist: np.ndarray, idx: np.ndarray) -> None:
        cell, inside = self.cells_of(q)
        info = self._cells.take(cell)
        count = (info >> 32) & 255
        if not inside.all():
            count[~inside] = 0
        start = info & 0xFFFFFFFF
        qx, qy = q[:, 0], q[:, 1]
        # the points by number of candidates (a radix sort): each candidate k >= 1 is measured for a tail of them;
        # where most points have one candidate, those are measured first, unsorted, and the rest sorted alone
        more = np.flatnonzero(count > 1)
        few = len(more) < 0.75 * len(q)
        if few:
            dist[:], idx[:] = self._measure(qx, qy, t=info >> 40)
            order = more.take(np.argsort(count.take(more).astype(np.uint8), kind="stable"))
        else:
            order = np.argsort(count.astype(np.uint8), kind="stable")
        many = count.take(order)
        qx, qy, start = qx.take(order), qy.take(order), start.take(order)
        if few:
            near, arg = dist.take(order), idx.take(order)
        else:
            near, arg = self._measure(qx, qy, t=info.take(order) >> 40)
        for k, s in enumerate(np.searchsorted(many, np.arange(1, many[-1] if len(many) else 1), side="right"), 1):
            if len(many) - s <= _FEW:  # the last few points: all their remaining candidates at once
                cols = np.minimum(np.arange(many[-1] - k), many[s:, None] - k - 1) + k
                d2, t = self._measure(qx[s:, None], qy[s:, None], start[s:, None] + cols)
                j = d2.argmin(axis=1)[:, None]
                d2, t = np.take_along_axis(d2, j, 1)[:, 0], np.take_along_axis(t, j, 1)[:, 0]
            else:
                d2, t = self._measure(qx[s:], qy[s:], start[s:] + k)
            np.copyto(arg[s:], t, where=d2 < near[s:])
            np.minimum(near[s:], d2, out=near[s:])  # (no NaN here: the same as copying where nearer)
            if len(many) - s <= _FEW:
                break
        dist[order], idx[order] = near, arg
        np.sqrt(dist, out=dist)
        if not count.all():  # outside the grid, or too many candidates: the tree
            rest = np.flatnonzero(count == 0)
            finite = np.isfinite(q.take(rest, axis=0)).all(axis=1)
            dist[rest], idx[rest] = np.inf, len(self.points)
            if finite.any():
                dist[rest[finite]], idx[rest[finite]] = self.tree.query(q.take(rest[finite], axis=0))

    def _measure(
        self, qx: np.ndarray, qy: np.ndarray, at: np.ndarray | None = None, t: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """``(d2, t)``: the candidates ``t = candidates[at]`` (or ``t`` given) and their squared distances to
        ``(qx, qy)``."""
        if t is None:
            t = self.candidates.take(at)
        return _squared_distances(qx, qy, self._x, self._y, t), t


class NearestInClouds:
    """Exact distance from each point of a fixed set ``points (m, 2)`` to the nearest point of each of many clouds
    ``(c, n, 2)``, given every cloud point's nearest point of the set (:meth:`NearestGrid.query`); the distances of a
    k-d tree of each cloud queried with the set's points.

    ``order`` ranks the set's points along the curve they sample (any order is exact; one along the curve is fast):
    a cloud's points sorted by the rank of their nearest set point, a set point ``q`` measures the few cloud points
    whose ranks are next to its own, and the nearest of them, at ``D``, is certified when every other cloud point is
    at least ``D`` from ``q``: a cloud point ``p`` nearest to set point ``t`` lies in ``t``'s Voronoi region, at least
    ``LB(q, t)`` from ``q`` (the largest distance from ``q`` to the half-planes of points nearer to ``t`` than to
    ``q`` or to one of ``t``'s nearest set points), and the smallest ``LB`` over all ranks below (above) a rank is
    tabulated. Uncertified set points measure more neighbours, then every point of their cloud (a cloud far from the
    set, with most of its set points open after two windows, goes to a k-d tree of it at once).
    """

    WINDOWS = (2, 4, 8, 16)  # cloud points measured on each side of a set point's rank, in turn
    NEIGHBOURS = 8  # a set point's nearest set points whose half-planes bound its Voronoi region
    FAR_SHARE = 0.6  # a cloud with more of its set points open after the second window: measured by a tree
    TREE_PAIRS = 64  # a cloud with more set points left open than this gets a k-d tree, else every point measured

    def __init__(self, points: np.ndarray, order: np.ndarray) -> None:
        pts = np.array(points, dtype=np.float64)
        order = np.asarray(order)
        m = len(pts)
        if pts.shape != (m, 2) or sorted(order.tolist()) != list(range(m)):
            raise ValueError("expected points (m, 2) and order, a permutation of range(m)")
        self.points, self.order = pts, order
        self.rank = np.empty(m, np.int64)
        self.rank[order] = np.arange(m)
        by_rank = pts[order]
        self._qx, self._qy = by_rank[:, 0].copy(), by_rank[:, 1].copy()
        # lb[i, j]: lower bound on the distance from the set point of rank i to the Voronoi region of rank j's
        lb = np.sqrt(((by_rank[:, None, :] - by_rank[None, :, :]) ** 2).sum(-1)) / 2
        k = min(self.NEIGHBOURS, m - 1)
        if k:
            # each point's k nearest others (by rank) from these distances, after itself
            key = lb.copy()
            np.fill_diagonal(key, -1.0)
            near = np.argpartition(key, k, axis=1)[:, : k + 1]
            near = np.take_along_axis(near, np.take_along_axis(key, near, 1).argsort(axis=1, kind="stable"), 1)
            for j in range(1, k + 1):
                other = by_rank[near[:, j]]
                normal = other - by_rank
                normal /= np.linalg.norm(normal, axis=1, keepdims=True)
                # offset[a, b] = (by_rank[a] - midpoint b) . normal[b], as one product (rounding far within _EPS)
                offset = by_rank @ normal.T
                offset -= (0.5 * (by_rank + other) * normal).sum(axis=1)
                np.maximum(lb, offset, out=lb)
        # below[i, j + 1]: smallest lb[i, :j + 1]; above[i, j + 1]: smallest lb[i, j:] (columns 0 and m + 1: no
        # cloud point there). Kept squared, less a margin for rounding, in float32 rounded down: a distance squared
        # at most the table's is certified
        inf = np.full((m, 1), np.inf)
        self._below = _squared_floor(np.hstack([inf, np.minimum.accumulate(lb, axis=1), inf]))
        self._above = _squared_floor(np.hstack([inf, np.minimum.accumulate(lb[:, ::-1], axis=1)[:, ::-1], inf]))
        self._tiled: tuple[np.ndarray, np.ndarray, np.ndarray] = (np.empty(0, np.int64), np.empty(0), np.empty(0))

    def _tile(self, c: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Each set point's table row and coordinates, for ``c`` clouds in turn: ``(c * m,)`` each."""
        m = len(self.points)
        tiled = self._tiled  # (one reference: another thread may put longer ones in its place)
        if len(tiled[0]) < c * m:
            rows = np.arange(m) * (m + 2) + 1
            tiled = self._tiled = (np.tile(rows, c), np.tile(self._qx, c), np.tile(self._qy, c))
        return tiled[0][: c * m], tiled[1][: c * m], tiled[2][: c * m]

    def distances(self, clouds: np.ndarray, nearest: np.ndarray) -> np.ndarray:
        """Distance from each set point to the nearest point of each cloud: float64 ``(c, m)`` for finite clouds
        ``(c, n, 2)`` and ``nearest (c, n)``, the index of each cloud point's nearest set point."""
        clouds = np.asarray(clouds, dtype=np.float64)
        c, n, _ = clouds.shape
        m, pad = len(self.points), self.WINDOWS[-1] + 1
        if not n:
            return np.full((c, m), np.inf)
        shift = n.bit_length()
        key_type = np.int32 if (m << shift) < 1 << 31 else np.int64
        rank = self.rank.take(nearest).astype(key_type)
        width = n + 2 * pad
        cloud_start = np.arange(c) * width + pad
        # each cloud's points sorted by rank (a sort of rank << shift | index), between pads: px, py far beyond
        # every set point, ranks -1 and m
        key = np.sort((rank << shift) | np.arange(n, dtype=key_type), axis=1)
        order = ((key & ((1 << shift) - 1)) + (np.arange(c) * n)[:, None]).ravel()
        sorted_at = (np.arange(n) + cloud_start[:, None]).ravel()
        px, py = np.full(c * width, 1e100), np.full(c * width, 1e100)
        px[sorted_at] = clouds[..., 0].ravel().take(order)
        py[sorted_at] = clouds[..., 1].ravel().take(order)
        ranks = np.full((c, width), m, key_type)
        ranks[:, :pad] = -1
        ranks[:, pad : pad + n] = key >> shift
        ranks = ranks.ravel()
        # the first sorted position of each cloud at or above each set point's rank, as an index into px
        counts = np.bincount((rank + (np.arange(c) * m)[:, None]).ravel(), minlength=c * m).reshape(c, m)
        counts = np.cumsum(counts, axis=1) - counts
        counts += cloud_start[:, None]
        centre = counts.ravel()
        row, qx, qy = self._tile(c)
        best = np.empty(c * m)
        by_tree: list[tuple[np.ndarray, np.ndarray]] = []  # (pairs, distances) measured by the clouds' trees
        todo: np.ndarray | slice = slice(None)
        measured = 0
        for stage, w in enumerate(self.WINDOWS):
            x, y = qx[todo], qy[todo]
            edge = centre[todo] - (w + 1)  # px[o + w + 1:].take(edge) is px.take(centre + o)
            b = best[todo] if measured else None
            for o in (*range(-w, -measured), *range(measured, w)):
                dx = _squared_distances(x, y, px[o + w + 1 :], py[o + w + 1 :], edge)
                if b is None:
                    b = dx
                else:
                    np.minimum(b, dx, out=b)
            measured = w
            best[todo] = b
            # certified: nearer than every cloud point left out, on either side (the pads: none)
            r = row[todo]
            left = self._below.take(ranks.take(edge) + r)
            np.minimum(left, self._above.take(ranks[2 * w + 1 :].take(edge) + r), out=left)
            open_ = np.flatnonzero(b > left)
            todo = open_ if isinstance(todo, slice) else todo.take(open_)
            if stage == 1 and len(todo):  # a cloud far from the set leaves most points open: to its tree now
                far = np.bincount(todo // m, minlength=c) > self.FAR_SHARE * m
                if far.any():
                    aside = far.take(todo // m)
                    self._measure_all(clouds, todo[aside], best, by_tree)
                    todo = todo[~aside]
            if not len(todo):
                break
        self._measure_all(clouds, todo, best, by_tree)
        out = np.sqrt(best)
        for pairs, dist in by_tree:
            out[pairs] = dist
        return out.reshape(c, m).take(self.rank, axis=1)

    def _measure_all(
        self, clouds: np.ndarray, pairs: np.ndarray, best: np.ndarray, by_tree: list[tuple[np.ndarray, np.ndarray]]
    ) -> None:
        """The distance from set point ``pair % m`` (by rank) to the nearest point of cloud ``pair // m`` for each of
        ``pairs``, against every point of the cloud: squared into ``best``, or, from a k-d tree of the cloud where it
        has many pairs, as it is into ``by_tree``."""
        m = len(self.points)
        for i in np.unique(pairs // m):
            q = pairs[pairs // m == i] % m
            if len(q) > self.TREE_PAIRS:
                by_tree.append((i * m + q, kd_tree(clouds[i]).query(np.stack([self._qx[q], self._qy[q]], axis=1))[0]))
            else:
                dx = self._qx[q, None] - clouds[i, None, :, 0]
                dy = self._qy[q, None] - clouds[i, None, :, 1]
                best[i * m + q] = (dx * dx + dy * dy).min(axis=1)


def _squared_distances(qx: np.ndarray, qy: np.ndarray, xs: np.ndarray, ys: np.ndarray, at: np.ndarray) -> np.ndarray:
    """``(qx - xs[at])^2 + (qy - ys[at])^2``, shaped as ``at`` (``qx, qy`` broadcast to it): the points ``at`` are
    gathered and their differences written in their place, two arrays for the whole computation."""
    dx = xs.take(at)
    np.subtract(qx, dx, out=dx)
    dy = ys.take(at)
    np.subtract(qy, dy, out=dy)
    dx *= dx
    dy *= dy
    dx += dy
    return dx


def _squared_floor(bound: np.ndarray) -> np.ndarray:
    """``(bound - margin)^2`` as float32, rounded down (-1 where ``bound`` is within the margin of 0), flat."""
    b = bound - _EPS
    sq = np.where(b > 0, b * b * (1 - 1e-9), -1.0).astype(np.float32)
    return np.nextafter(sq, np.float32(-np.inf)).ravel()


def _build(
    x: np.ndarray, y: np.ndarray, lo: np.ndarray, coarse: float, shape0: np.ndarray, levels: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Candidate lists of the cells of a grid ``shape0 * 2**levels`` of cells ``coarse / 2**levels`` wide from
    ``lo``: ``(ci, cj, lens, candidates, centre_distance)``, one entry a cell (in no particular order) but the
    candidates, which are each cell's ``lens`` in turn.

    Every coarse cell starts with every point and is halved ``levels`` times, all of them at once at each level
    (each cell's list filtered by :func:`_filter`, a chunk of cells at a time)."""
    m = len(x)
    ci, cj = (a.ravel() for a in np.meshgrid(np.arange(int(shape0[0])), np.arange(int(shape0[1])), indexing="ij"))
    lens = np.full(len(ci), m)
    cand = np.tile(np.arange(m, dtype=np.int32), len(ci))
    size = coarse
    for level in range(levels + 1):
        if level:  # four children of each cell, each with its parent's list
            ci = np.concatenate([2 * ci + a for a in (0, 0, 1, 1)])
            cj = np.concatenate([2 * cj + b for b in (0, 1, 0, 1)])
            lens, cand = np.tile(lens, 4), np.tile(cand, 4)
            size /= 2
        lens, cand, centre = _filter(x, y, lo + 0.5 * size + np.stack([ci, cj], 1) * size, size, lens, cand)
    return ci, cj, lens, cand, np.sqrt(centre)


def _filter(
    x: np.ndarray, y: np.ndarray, centres: np.ndarray, size: float, lens: np.ndarray, cand: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Keep of each cell's candidates (``lens`` of ``cand`` a cell, cells centred at ``centres (cells, 2)``, ``size``
    wide) those nearer than the centre's nearest point ``t0`` to some point of the cell: ``|c - t|^2 - |c - t0|^2
    <= size * (|t0x - tx| + |t0y - ty|)`` (the half-plane's linear function at its best corner). Returns the new
    ``(lens, cand)`` and each cell's squared distance from its centre to its nearest point."""
    ends = np.cumsum(lens)
    out_lens = np.empty_like(lens)
    out_cand = np.empty_like(cand)
    kept = 0
    centre_d2 = np.empty(len(lens))
    reach = size * (1 + 1e-9)
    c0 = 0
    while c0 < len(lens):
        base = ends[c0] - lens[c0]
        c1 = max(c0 + 1, int(np.searchsorted(ends, base + _BUILD_CHUNK, side="right")))
        seg = lens[c0:c1]
        starts = np.cumsum(seg) - seg
        t = cand[base : ends[c1 - 1]]
        tx, ty = x.take(t), y.take(t)
        dx = tx - np.repeat(centres[c0:c1, 0], seg)
        dy = ty - np.repeat(centres[c0:c1, 1], seg)
        dx *= dx
        dy *= dy
        dx += dy
        dmin = np.minimum.reduceat(dx, starts)
        dx -= np.repeat(dmin, seg)
        # a nearest point of each centre: the first zero of its cell's dx (each cell has one)
        zero = np.flatnonzero(dx == 0)
        first = np.ones(len(zero), bool)
        cell_of = np.searchsorted(starts, zero, side="right")
        first[1:] = cell_of[1:] != cell_of[:-1]
        t0 = t.take(zero[first])
        tx -= np.repeat(x.take(t0), seg)
        ty -= np.repeat(y.take(t0), seg)
        np.abs(tx, out=tx)
        np.abs(ty, out=ty)
        tx += ty
        tx *= reach
        keep = dx <= tx + _EPS
        counts = np.cumsum(keep)
        out_lens[c0:c1] = np.diff(counts[starts + seg - 1], prepend=0)
        out_cand[kept : kept + counts[-1]] = t[keep]
        kept += counts[-1]
        centre_d2[c0:c1] = dmin
        c0 = c1
    return out_lens, out_cand[:kept].copy(), centre_d2


def map_chunks(fn: Callable[[int, int], T], total: int, chunk: int, workers: int | None = None) -> list[T]:
    """``fn(start, stop)`` for consecutive pieces of ``range(total)`` of ``chunk`` items, on up to ``workers``
    threads (default :data:`WORKERS`), in order of ``start``."""
    bounds: Sequence[tuple[int, int]] = [(s, min(total, s + chunk)) for s in range(0, total, max(1, chunk))]
    workers = min(len(bounds), workers or WORKERS)
    if workers <= 1:
        return [fn(a, b) for a, b in bounds]
    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(lambda ab: fn(*ab), bounds))
