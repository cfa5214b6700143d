"""Fast exact path-dependent TreeSHAP for single-output XGBoost gbtree models.

Algorithm (Lundberg et al. 2020; table idea of Yang 2021, "Fast TreeSHAP").
The path-dependent value function of a tree is a sum over leaves of
``v_l * prod_{j in S} o_j * prod_{j not in S} z_j`` over the k distinct features j on the
leaf's path, where ``z_j`` is the product of cover fractions cover(child)/cover(node) of
the path's nodes splitting on j and ``o_j`` in {0, 1} says whether the row satisfies all
of them. Shapley values are additive over leaves and a leaf's Shapley values depend on the
row only through the pattern ``o`` (2^k possibilities), so they can be tabulated once per
model (``kernels._leaf_table``: a polynomial in the Shapley weights, O(2^k k^3)).

Grouping and table indexing. Looking up every leaf separately costs O(leaves * depth) per
tree, so leaves are grouped: a group is a subtree plus the path from the tree root to it,
with at most ``group_bits`` internal nodes in total (or a single split / leaf when the path
alone is longer). The group table is indexed by the raw decisions of those nodes,
``idx = sum_b bit_b << b`` with ``bit_b = 1`` when the row goes right at the group's b-th
node (path nodes first, then the subtree's internal nodes in preorder); each entry holds,
for the group's distinct features in slot order, the summed Shapley contributions of all
the group's leaves. Layout: ``table[grp_tab_off[g] + idx * nf_g + slot]`` so one look-up
reads nf_g contiguous float64. A depth-3 tree is one group of 2^7 entries; a depth-6 tree
becomes 16 groups of 2^7. The widest ``group_bits`` (default 8) whose tables fit the memory
budget is used; smaller groups need less memory but more look-ups.

Request time. Internal nodes are numbered in preorder, so a group's subtree nodes are a
contiguous bit range. Each internal node is evaluated once per row and tree, branch-free
(missing -> default direction, else ``x >= threshold`` in float32 as XGBoost does), into
one 64-bit decision word per row; a group's index is its path bits gathered from the word
plus one shift-and-mask for the subtree (trees with more than 64 internal nodes use a
per-node decision array instead). Batches are processed in blocks of rows, tree-outer and
row-inner, with the block copied feature-major so node evaluation vectorises across rows and
a tree's tables stay in cache for the whole block; single rows use a scalar kernel. The
bias column is the base-score margin plus each tree's cover-weighted mean leaf value.

Models whose tables exceed the memory budget (or whose base-score link is unknown, or that
fail a load-time self-check against pred_contribs) fall back to ``pred_contribs``, logged
once at load. dart, gblinear, multi-class / multi-output and categorical-split models are
refused with ``UnsupportedModelError``. Tables are read-only after load and kernels release
the GIL, so concurrent ``shap_values`` calls are safe; batch (thread-pool) launches are
serialised by a lock because numba's workqueue layer is not re-entrant.
"""

from riskmodel.treeshap.explainer import TreeShapExplainer
from riskmodel.treeshap.tables import TableBudgetError, UnsupportedModelError

__all__ = ["TableBudgetError", "TreeShapExplainer", "UnsupportedModelError"]
