"""Parse an XGBoost model's JSON and build the per-group TreeSHAP tables.

See ``riskmodel.treeshap`` for the algorithm. This module turns the model JSON
(``booster.save_raw("json")``) into flat arrays for the kernels and fills the tables once.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

import numpy as np
import xgboost as xgb

from riskmodel.treeshap.kernels import fill_group_tables

# Largest group index width tried first; smaller widths are tried when over budget.
DEFAULT_MAX_GROUP_BITS = 8

# Objective -> how base_score maps to the margin (XGBoost's ProbToMargin).
_LOGIT_OBJECTIVES = frozenset({"binary:logistic", "reg:logistic"})
_IDENTITY_OBJECTIVES = frozenset(
    {
        "reg:squarederror",
        "reg:squaredlogerror",
        "reg:pseudohubererror",
        "reg:absoluteerror",
        "binary:logitraw",
    }
)
_LOG_OBJECTIVES = frozenset({"count:poisson", "reg:gamma", "reg:tweedie"})


class UnsupportedModelError(ValueError):
    """The model type cannot be explained by this package at all (not even by fallback)."""


class TableBudgetError(RuntimeError):
    """The fast engine cannot handle this model; the caller falls back to pred_contribs."""


@dataclass
class Tree:
    left: np.ndarray  # int64, -1 for leaves
    right: np.ndarray
    feat: np.ndarray  # int64
    thr: np.ndarray  # float32 split thresholds
    default_left: np.ndarray  # bool
    cover: np.ndarray  # float64 sum_hessian
    value: np.ndarray  # float64 leaf values (valid for leaves)


@dataclass
class ParsedModel:
    trees: list[Tree]
    n_features: int
    objective: str
    base_score: float
    base_margin: float | None  # None when the objective's link is unknown


@dataclass
class Tables:
    """Flat arrays consumed by the kernels (see ``kernels._explain_rows``)."""

    node_feat: np.ndarray
    node_thr: np.ndarray
    node_dr: np.ndarray  # 1 when missing values go right
    tree_node_off: np.ndarray
    tree_grp_off: np.ndarray
    grp_bit_off: np.ndarray
    grp_bits: np.ndarray
    grp_npath: np.ndarray  # leading path nodes in grp_bits; the rest is the subtree
    grp_sub: np.ndarray  # local index of the group root (first subtree node)
    grp_feat_off: np.ndarray
    grp_feats: np.ndarray
    grp_tab_off: np.ndarray
    table: np.ndarray
    max_nodes: int
    bias: float
    group_bits: int
    max_depth: int

    @property
    def nbytes(self) -> int:
        return int(
            sum(
                a.nbytes
                for a in (
                    self.node_feat, self.node_thr, self.node_dr, self.tree_node_off,
                    self.tree_grp_off, self.grp_bit_off, self.grp_bits, self.grp_npath,
            self.grp_sub, self.grp_feat_off,
                    self.grp_feats, self.grp_tab_off, self.table,
                )
            )
        )

    def kernel_args(self) -> tuple:
        return (
            self.bias, self.node_feat, self.node_thr, self.node_dr, self.tree_node_off,
            self.tree_grp_off, self.grp_bit_off, self.grp_bits, self.grp_npath,
            self.grp_sub, self.grp_feat_off,
            self.grp_feats, self.grp_tab_off, self.table, self.max_nodes,
        )


def _parse_base_score(raw: str | float) -> float:
    # xgboost >= 3 writes a list-string such as "[5E-1]" (vector intercept).
    s = str(raw).strip()
    if s.startswith("["):
        parts = [p for p in s.strip("[]").split(",") if p.strip()]
        if len(parts) != 1:
            raise UnsupportedModelError("multi-output base_score is not supported")
        s = parts[0]
    return float(s)


def parse_booster(booster: xgb.Booster) -> ParsedModel:
    """Read trees and learner parameters; raise UnsupportedModelError for refused models."""
    model = json.loads(booster.save_raw("json"))
    learner = model["learner"]
    gb = learner["gradient_booster"]
    name = gb.get("name")
    if name == "dart":
        raise UnsupportedModelError("dart boosters are not supported (tree weights/dropout)")
    if name != "gbtree":
        raise UnsupportedModelError(f"booster '{name}' is not supported; only gbtree")
    lmp = learner["learner_model_param"]
    if int(lmp.get("num_class", "0")) > 1 or int(lmp.get("num_target", "1")) > 1:
        raise UnsupportedModelError(
            "multi-class / multi-output models are not supported; only single-output "
            "binary:logistic or regression"
        )
    objective = learner["objective"]["name"]
    if objective.startswith("multi:"):
        raise UnsupportedModelError(f"objective '{objective}' is not supported")
    base_score = _parse_base_score(lmp["base_score"])
    if objective in _LOGIT_OBJECTIVES:
        base_margin: float | None = (
            math.log(base_score / (1.0 - base_score)) if 0.0 < base_score < 1.0 else None
        )
    elif objective in _IDENTITY_OBJECTIVES:
        base_margin = base_score
    elif objective in _LOG_OBJECTIVES:
        base_margin = math.log(base_score) if base_score > 0.0 else None
    else:
        base_margin = None
    trees: list[Tree] = []
    for tj in gb["model"]["trees"]:
        if any(int(s) != 0 for s in tj.get("split_type", [])):
            raise UnsupportedModelError(
                "categorical splits are not supported by the TreeSHAP engine; "
                "one-hot encode categorical features"
            )
        if int(tj["tree_param"].get("size_leaf_vector", "1")) > 1:
            raise UnsupportedModelError("vector-leaf (multi-target) trees are not supported")
        left = np.asarray(tj["left_children"], dtype=np.int64)
        trees.append(
            Tree(
                left=left,
                right=np.asarray(tj["right_children"], dtype=np.int64),
                feat=np.asarray(tj["split_indices"], dtype=np.int64),
                thr=np.asarray(tj["split_conditions"], dtype=np.float32),
                default_left=np.asarray(tj["default_left"], dtype=bool),
                cover=np.asarray(tj["sum_hessian"], dtype=np.float64),
                # Leaf values are float32 in XGBoost; keep that exact value in float64.
                value=np.asarray(tj["split_conditions"], dtype=np.float32).astype(np.float64),
            )
        )
    return ParsedModel(
        trees=trees,
        n_features=int(lmp["num_feature"]),
        objective=objective,
        base_score=base_score,
        base_margin=base_margin,
    )


def tree_expectation(tree: Tree) -> float:
    """Cover-weighted mean leaf value, as XGBoost's bias column uses."""
    mean = np.zeros(tree.left.shape[0])
    order = _preorder(tree)
    for n in reversed(order):
        lc = tree.left[n]
        if lc < 0:
            mean[n] = tree.value[n]
        else:
            rc = tree.right[n]
            mean[n] = (tree.cover[lc] * mean[lc] + tree.cover[rc] * mean[rc]) / tree.cover[n]
    return float(mean[0])


def _preorder(tree: Tree) -> list[int]:
    order: list[int] = []
    stack = [0]
    while stack:
        n = stack.pop()
        order.append(n)
        if tree.left[n] >= 0:
            stack.append(int(tree.right[n]))
            stack.append(int(tree.left[n]))
    return order


def _internal_counts(tree: Tree, order: list[int]) -> np.ndarray:
    cnt = np.zeros(tree.left.shape[0], dtype=np.int64)
    for n in reversed(order):
        if tree.left[n] >= 0:
            cnt[n] = 1 + cnt[tree.left[n]] + cnt[tree.right[n]]
    return cnt


def _groups(tree: Tree, cnt: np.ndarray, max_bits: int) -> list[tuple[int, list[tuple[int, int]]]]:
    """Split a tree into groups: (subtree root, path [(node, dir)] from the tree root).

    A group is kept whole when path length + internal nodes <= max_bits, or when it is a
    single split or a leaf (the smallest possible groups).
    """
    out: list[tuple[int, list[tuple[int, int]]]] = []
    stack: list[tuple[int, list[tuple[int, int]]]] = [(0, [])]
    while stack:
        n, path = stack.pop()
        if tree.left[n] < 0 or len(path) + cnt[n] <= max_bits or cnt[n] == 1:
            out.append((n, path))
        else:
            stack.append((int(tree.right[n]), path + [(n, 1)]))
            stack.append((int(tree.left[n]), path + [(n, 0)]))
    return out


def _group_layout(tree: Tree, root: int, path: list[tuple[int, int]]):
    """Bit order (path nodes then subtree internal nodes), feature slots and leaf paths."""
    nodes = [n for n, _ in path]
    leaves: list[tuple[int, list[tuple[int, int]]]] = []
    stack = [(root, list(path))]
    while stack:
        n, p = stack.pop()
        if tree.left[n] < 0:
            leaves.append((n, p))
        else:
            nodes.append(n)
            stack.append((int(tree.right[n]), p + [(n, 1)]))
            stack.append((int(tree.left[n]), p + [(n, 0)]))
    feats: list[int] = []
    for n in nodes:
        f = int(tree.feat[n])
        if f not in feats:
            feats.append(f)
    return nodes, feats, leaves


def estimate_table_bytes(model: ParsedModel, max_bits: int) -> int:
    total = 0
    for tree in model.trees:
        if tree.left[0] < 0:
            continue
        order = _preorder(tree)
        cnt = _internal_counts(tree, order)
        for root, path in _groups(tree, cnt, max_bits):
            nbits = len(path) + int(cnt[root])
            nf = len({int(tree.feat[n]) for n, _ in path} | _subtree_feats(tree, root))
            total += (1 << nbits) * nf * 8
    return total


def _subtree_feats(tree: Tree, root: int) -> set[int]:
    out: set[int] = set()
    stack = [root]
    while stack:
        n = stack.pop()
        if tree.left[n] >= 0:
            out.add(int(tree.feat[n]))
            stack.append(int(tree.left[n]))
            stack.append(int(tree.right[n]))
    return out


def build_tables(
    model: ParsedModel,
    memory_budget_bytes: int,
    max_group_bits: int = DEFAULT_MAX_GROUP_BITS,
) -> Tables:
    """Choose the widest group size that fits the budget and fill the tables.

    Raises TableBudgetError when even the smallest groups exceed the budget or the
    objective's base-score link is unknown.
    """
    if model.base_margin is None:
        raise TableBudgetError(f"unknown base-score link for objective '{model.objective}'")
    max_depth = 0
    for tree in model.trees:
        order = _preorder(tree)
        depth = {0: 0}
        for n in order:
            if tree.left[n] >= 0:
                depth[int(tree.left[n])] = depth[n] + 1
                depth[int(tree.right[n])] = depth[n] + 1
        max_depth = max(max_depth, max(depth.values()))
    if max_depth > 20:
        raise TableBudgetError(f"trees too deep for tables (depth {max_depth})")
    bits = max_group_bits
    est = estimate_table_bytes(model, bits)
    while est > memory_budget_bytes and bits > 0:
        bits -= 1
        est = estimate_table_bytes(model, bits)
    if est > memory_budget_bytes:
        raise TableBudgetError(
            f"tables need {est} bytes > budget {memory_budget_bytes} bytes (depth {max_depth})"
        )

    node_feat: list[int] = []
    node_thr: list[float] = []
    node_dr: list[int] = []
    tree_node_off = [0]
    tree_grp_off = [0]
    grp_bit_off = [0]
    grp_bits: list[int] = []
    grp_npath: list[int] = []
    grp_sub: list[int] = []
    grp_feat_off = [0]
    grp_feats: list[int] = []
    grp_tab_off: list[int] = []
    grp_nbits: list[int] = []
    grp_leaf_off = [0]
    leaf_value: list[float] = []
    leaf_uf_off = [0]
    uf_slot: list[int] = []
    uf_z: list[float] = []
    leaf_path_off = [0]
    path_bit: list[int] = []
    path_dir: list[int] = []
    path_uf: list[int] = []
    tab_size = 0
    max_nodes = 0
    bias = float(model.base_margin)
    for tree in model.trees:
        bias += tree_expectation(tree)
        order = _preorder(tree)
        internal = [n for n in order if tree.left[n] >= 0]
        local = {n: i for i, n in enumerate(internal)}
        max_nodes = max(max_nodes, len(internal))
        for n in internal:
            node_feat.append(int(tree.feat[n]))
            node_thr.append(float(tree.thr[n]))
            node_dr.append(0 if tree.default_left[n] else 1)
        tree_node_off.append(len(node_feat))
        if internal:
            cnt = _internal_counts(tree, order)
            for root, path in _groups(tree, cnt, bits):
                nodes, feats, leaves = _group_layout(tree, root, path)
                pos = {n: i for i, n in enumerate(nodes)}
                slot = {f: i for i, f in enumerate(feats)}
                grp_bits.extend(local[n] for n in nodes)
                grp_npath.append(len(path))
                sub = [local[n] for n in nodes[len(path) :]]
                grp_sub.append(sub[0] if sub else 0)
                # The kernels rely on preorder numbering making a subtree contiguous.
                if sub and sub != list(range(sub[0], sub[0] + len(sub))):
                    raise AssertionError("subtree nodes are not contiguous in preorder")
                grp_bit_off.append(len(grp_bits))
                grp_feats.extend(feats)
                grp_feat_off.append(len(grp_feats))
                grp_tab_off.append(tab_size)
                grp_nbits.append(len(nodes))
                tab_size += (1 << len(nodes)) * len(feats)
                for leaf, lpath in leaves:
                    ufs: list[int] = []
                    zs: list[float] = []
                    for n, d in lpath:
                        f = int(tree.feat[n])
                        child = int(tree.right[n] if d else tree.left[n])
                        frac = tree.cover[child] / tree.cover[n]
                        if f in ufs:
                            zs[ufs.index(f)] *= frac
                        else:
                            ufs.append(f)
                            zs.append(frac)
                        path_bit.append(pos[n])
                        path_dir.append(d)
                        path_uf.append(ufs.index(f))
                    leaf_path_off.append(len(path_bit))
                    uf_slot.extend(slot[f] for f in ufs)
                    uf_z.extend(zs)
                    leaf_uf_off.append(len(uf_slot))
                    leaf_value.append(float(tree.value[leaf]))
                grp_leaf_off.append(len(leaf_value))
        tree_grp_off.append(len(grp_tab_off))

    i64 = np.int64
    table = np.zeros(tab_size, dtype=np.float64)
    grp_tab_off_a = np.asarray(grp_tab_off, dtype=i64)
    fill_group_tables(
        table,
        grp_tab_off_a,
        np.asarray(grp_nbits, dtype=i64),
        np.diff(np.asarray(grp_feat_off, dtype=i64)),
        np.asarray(grp_leaf_off, dtype=i64),
        np.asarray(leaf_value, dtype=np.float64),
        np.asarray(leaf_uf_off, dtype=i64),
        np.asarray(uf_slot, dtype=i64),
        np.asarray(uf_z, dtype=np.float64),
        np.asarray(leaf_path_off, dtype=i64),
        np.asarray(path_bit, dtype=i64),
        np.asarray(path_dir, dtype=i64),
        np.asarray(path_uf, dtype=i64),
    )
    return Tables(
        node_feat=np.asarray(node_feat, dtype=np.int32),
        node_thr=np.asarray(node_thr, dtype=np.float32),
        node_dr=np.asarray(node_dr, dtype=np.int64),
        tree_node_off=np.asarray(tree_node_off, dtype=i64),
        tree_grp_off=np.asarray(tree_grp_off, dtype=i64),
        grp_bit_off=np.asarray(grp_bit_off, dtype=i64),
        grp_bits=np.asarray(grp_bits, dtype=np.int32),
        grp_npath=np.asarray(grp_npath, dtype=np.int64),
        grp_sub=np.asarray(grp_sub, dtype=np.int64),
        grp_feat_off=np.asarray(grp_feat_off, dtype=i64),
        grp_feats=np.asarray(grp_feats, dtype=np.int32),
        grp_tab_off=grp_tab_off_a,
        table=table,
        max_nodes=max_nodes,
        bias=bias,
        group_bits=bits,
        max_depth=max_depth,
    )
