"""Numba kernels: table filling (load time) and table look-up (request time).

See ``riskmodel.treeshap`` for the algorithm and the table indexing. All functions use
``cache=True`` so the JIT cost is paid once per machine, and ``nogil=True`` so concurrent
requests from a web server's threads run in parallel.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

# Requests with fewer rows than this use the scalar row-at-a-time kernel.
SCALAR_ROWS = 4


@njit(cache=True, nogil=True)
def _leaf_table(value: float, z: np.ndarray) -> np.ndarray:
    """Shapley values of one leaf's game for every pattern of satisfied features.

    The leaf's value function is ``v * prod_{j in S} o_j * prod_{j not in S} z_j`` over its
    k distinct path features, so for a pattern ``o`` (bit j of ``code``)
    ``phi_i = v (o_i - z_i) sum_m w(m) e_m`` where ``e_m`` is the coefficient of ``t^m`` in
    ``prod_{j != i} (z_j + o_j t)`` and ``w(m) = m! (k-1-m)! / k!``.
    """
    k = z.shape[0]
    out = np.zeros((1 << k, k))
    w = np.empty(k)
    for m in range(k):
        # 1 / (k * C(k-1, m)), built incrementally to stay exact for small k.
        c = 1.0
        for q in range(m):
            c = c * (k - 1 - q) / (q + 1)
        w[m] = 1.0 / (k * c)
    poly = np.empty(k + 1)
    for code in range(1 << k):
        for i in range(k):
            oi = (code >> i) & 1
            d = oi - z[i]
            if d == 0.0:
                continue
            poly[0] = 1.0
            deg = 0
            for j in range(k):
                if j == i:
                    continue
                zj = z[j]
                if (code >> j) & 1:
                    poly[deg + 1] = poly[deg]
                    for m in range(deg, 0, -1):
                        poly[m] = zj * poly[m] + poly[m - 1]
                    poly[0] = zj * poly[0]
                    deg += 1
                else:
                    for m in range(deg + 1):
                        poly[m] *= zj
            s = 0.0
            for m in range(deg + 1):
                s += w[m] * poly[m]
            out[code, i] = value * d * s
    return out


@njit(cache=True, nogil=True)
def fill_group_tables(
    table: np.ndarray,
    grp_tab_off: np.ndarray,
    grp_nbits: np.ndarray,
    grp_nf: np.ndarray,
    grp_leaf_off: np.ndarray,
    leaf_value: np.ndarray,
    leaf_uf_off: np.ndarray,
    uf_slot: np.ndarray,
    uf_z: np.ndarray,
    leaf_path_off: np.ndarray,
    path_bit: np.ndarray,
    path_dir: np.ndarray,
    path_uf: np.ndarray,
) -> None:
    """Sum each group's leaf tables into the group table indexed by raw node decisions."""
    for g in range(grp_tab_off.shape[0]):
        nb = grp_nbits[g]
        nf = grp_nf[g]
        base = grp_tab_off[g]
        for leaf in range(grp_leaf_off[g], grp_leaf_off[g + 1]):
            u0 = leaf_uf_off[leaf]
            k = leaf_uf_off[leaf + 1] - u0
            lt = _leaf_table(leaf_value[leaf], uf_z[u0 : u0 + k])
            full = (1 << k) - 1
            p0 = leaf_path_off[leaf]
            p1 = leaf_path_off[leaf + 1]
            for idx in range(1 << nb):
                code = full
                for p in range(p0, p1):
                    if ((idx >> path_bit[p]) & 1) != path_dir[p]:
                        code &= ~(1 << path_uf[p])
                row = base + idx * nf
                for j in range(k):
                    table[row + uf_slot[u0 + j]] += lt[code, j]


@njit(cache=True, nogil=True)
def _explain_rows(
    X: np.ndarray,
    out: np.ndarray,
    r0: int,
    r1: int,
    bias: float,
    node_feat: np.ndarray,
    node_thr: np.ndarray,
    node_dr: np.ndarray,
    tree_node_off: np.ndarray,
    tree_grp_off: np.ndarray,
    grp_bit_off: np.ndarray,
    grp_bits: np.ndarray,
    grp_npath: np.ndarray,
    grp_sub: np.ndarray,
    grp_feat_off: np.ndarray,
    grp_feats: np.ndarray,
    grp_tab_off: np.ndarray,
    table: np.ndarray,
    max_nodes: int,
) -> None:
    """Rows [r0, r1): tree-outer, row-inner so one tree's tables stay in cache for the block."""
    n_feat = X.shape[1]
    nr = r1 - r0
    # Feature-major copy of the block: node evaluation then reads contiguous rows of one
    # feature and vectorises across rows.
    xt = np.empty((n_feat, nr), dtype=np.float32)
    for r in range(nr):
        for f in range(n_feat):
            xt[f, r] = X[r0 + r, f]
        for f in range(n_feat):
            out[r0 + r, f] = 0.0
        out[r0 + r, n_feat] = bias
    words = np.empty(nr, dtype=np.int64)
    bitm = np.empty((max_nodes if max_nodes > 64 else 0, nr), dtype=np.int64)
    for t in range(tree_node_off.shape[0] - 1):
        n0 = tree_node_off[t]
        n1 = tree_node_off[t + 1]
        g0 = tree_grp_off[t]
        g1 = tree_grp_off[t + 1]
        if n1 - n0 <= 64:
            # Decisions packed in one word per row: bit j = row goes right at local node j.
            # Branch-free: x >= thr is False for NaN, which goes right only if default-right.
            words[:] = 0
            for n in range(n0, n1):
                xf = xt[node_feat[n]]
                thr = node_thr[n]
                dr = node_dr[n]
                sh = n - n0
                for r in range(nr):
                    x = xf[r]
                    words[r] |= (np.int64(x >= thr) | (np.int64(x != x) & dr)) << sh
            for r in range(nr):
                w = words[r]
                for g in range(g0, g1):
                    b0 = grp_bit_off[g]
                    npath = grp_npath[g]
                    nsub = grp_bit_off[g + 1] - b0 - npath
                    idx = 0
                    for j in range(npath):
                        idx |= ((w >> grp_bits[b0 + j]) & 1) << j
                    # The group's subtree nodes are contiguous in preorder numbering.
                    idx |= ((w >> grp_sub[g]) & ((np.int64(1) << nsub) - 1)) << npath
                    f0 = grp_feat_off[g]
                    nf = grp_feat_off[g + 1] - f0
                    row = grp_tab_off[g] + idx * nf
                    for s in range(nf):
                        out[r0 + r, grp_feats[f0 + s]] += table[row + s]
        else:
            # Trees with more than 64 internal nodes: one decision per (node, row).
            for n in range(n0, n1):
                xf = xt[node_feat[n]]
                thr = node_thr[n]
                dr = node_dr[n]
                for r in range(nr):
                    x = xf[r]
                    bitm[n - n0, r] = np.int64(x >= thr) | (np.int64(x != x) & dr)
            for r in range(nr):
                for g in range(g0, g1):
                    b0 = grp_bit_off[g]
                    nb = grp_bit_off[g + 1] - b0
                    idx = 0
                    for j in range(nb):
                        idx |= bitm[grp_bits[b0 + j], r] << j
                    f0 = grp_feat_off[g]
                    nf = grp_feat_off[g + 1] - f0
                    row = grp_tab_off[g] + idx * nf
                    for s in range(nf):
                        out[r0 + r, grp_feats[f0 + s]] += table[row + s]


@njit(cache=True, nogil=True)
def _explain_row(
    X: np.ndarray,
    out: np.ndarray,
    r: int,
    bias: float,
    node_feat: np.ndarray,
    node_thr: np.ndarray,
    node_dr: np.ndarray,
    tree_node_off: np.ndarray,
    tree_grp_off: np.ndarray,
    grp_bit_off: np.ndarray,
    grp_bits: np.ndarray,
    grp_npath: np.ndarray,
    grp_sub: np.ndarray,
    grp_feat_off: np.ndarray,
    grp_feats: np.ndarray,
    grp_tab_off: np.ndarray,
    table: np.ndarray,
    bitv: np.ndarray,
) -> None:
    """One row, scalar: no block transpose or per-tree array views (latency path)."""
    n_feat = X.shape[1]
    for f in range(n_feat):
        out[r, f] = 0.0
    out[r, n_feat] = bias
    for t in range(tree_node_off.shape[0] - 1):
        n0 = tree_node_off[t]
        n1 = tree_node_off[t + 1]
        if n1 - n0 <= 64:
            w = np.int64(0)
            for n in range(n0, n1):
                x = X[r, node_feat[n]]
                w |= (np.int64(x >= node_thr[n]) | (np.int64(x != x) & node_dr[n])) << (n - n0)
            for g in range(tree_grp_off[t], tree_grp_off[t + 1]):
                b0 = grp_bit_off[g]
                npath = grp_npath[g]
                nsub = grp_bit_off[g + 1] - b0 - npath
                idx = ((w >> grp_sub[g]) & ((np.int64(1) << nsub) - 1)) << npath
                for j in range(npath):
                    idx |= ((w >> grp_bits[b0 + j]) & 1) << j
                f0 = grp_feat_off[g]
                nf = grp_feat_off[g + 1] - f0
                row = grp_tab_off[g] + idx * nf
                for s in range(nf):
                    out[r, grp_feats[f0 + s]] += table[row + s]
        else:
            for n in range(n0, n1):
                x = X[r, node_feat[n]]
                bitv[n - n0] = np.int64(x >= node_thr[n]) | (np.int64(x != x) & node_dr[n])
            for g in range(tree_grp_off[t], tree_grp_off[t + 1]):
                b0 = grp_bit_off[g]
                idx = 0
                for j in range(grp_bit_off[g + 1] - b0):
                    idx |= bitv[grp_bits[b0 + j]] << j
                f0 = grp_feat_off[g]
                nf = grp_feat_off[g + 1] - f0
                row = grp_tab_off[g] + idx * nf
                for s in range(nf):
                    out[r, grp_feats[f0 + s]] += table[row + s]


@njit(cache=True, nogil=True)
def explain_serial(
    X: np.ndarray,
    out: np.ndarray,
    bias: float,
    node_feat: np.ndarray,
    node_thr: np.ndarray,
    node_dr: np.ndarray,
    tree_node_off: np.ndarray,
    tree_grp_off: np.ndarray,
    grp_bit_off: np.ndarray,
    grp_bits: np.ndarray,
    grp_npath: np.ndarray,
    grp_sub: np.ndarray,
    grp_feat_off: np.ndarray,
    grp_feats: np.ndarray,
    grp_tab_off: np.ndarray,
    table: np.ndarray,
    max_nodes: int,
    block: int,
) -> None:
    """Single-threaded path for small requests (no thread-pool launch).

    A few rows go row-at-a-time (scalar, lowest latency); more rows use the blocked kernel,
    whose per-tree set-up is amortised over the block.
    """
    n = X.shape[0]
    if n < SCALAR_ROWS:
        bitv = np.empty(max_nodes if max_nodes > 64 else 0, dtype=np.int64)
        for r in range(n):
            _explain_row(
                X, out, r, bias, node_feat, node_thr, node_dr, tree_node_off, tree_grp_off,
                grp_bit_off, grp_bits, grp_npath, grp_sub, grp_feat_off, grp_feats,
                grp_tab_off, table, bitv,
            )
        return
    for r0 in range(0, n, block):
        _explain_rows(
            X, out, r0, min(n, r0 + block), bias, node_feat, node_thr, node_dr,
            tree_node_off, tree_grp_off, grp_bit_off, grp_bits, grp_npath, grp_sub,
            grp_feat_off, grp_feats, grp_tab_off, table, max_nodes,
        )


@njit(cache=True, nogil=True, parallel=True)
def explain_parallel(
    X: np.ndarray,
    out: np.ndarray,
    bias: float,
    node_feat: np.ndarray,
    node_thr: np.ndarray,
    node_dr: np.ndarray,
    tree_node_off: np.ndarray,
    tree_grp_off: np.ndarray,
    grp_bit_off: np.ndarray,
    grp_bits: np.ndarray,
    grp_npath: np.ndarray,
    grp_sub: np.ndarray,
    grp_feat_off: np.ndarray,
    grp_feats: np.ndarray,
    grp_tab_off: np.ndarray,
    table: np.ndarray,
    max_nodes: int,
    block: int,
) -> None:
    """Row blocks spread over numba's thread pool."""
    n = X.shape[0]
    n_blocks = (n + block - 1) // block
    for b in prange(n_blocks):
        r0 = b * block
        _explain_rows(
            X, out, r0, min(n, r0 + block), bias, node_feat, node_thr, node_dr,
            tree_node_off, tree_grp_off, grp_bit_off, grp_bits, grp_npath, grp_sub, grp_feat_off,
            grp_feats,
            grp_tab_off, table, max_nodes,
        )
