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
becomes 16 groups of 2^7. At request time each internal node is evaluated once per row and
tree (missing -> default direction, else ``x < threshold`` in float32 as XGBoost does),
then one look-up per group adds its entries. The bias column is the base-score margin plus
each tree's cover-weighted mean leaf value.

Models whose tables exceed the memory budget fall back to ``pred_contribs`` (logged once).
"""

from riskmodel.treeshap.explainer import TreeShapExplainer
from riskmodel.treeshap.tables import TableBudgetError, UnsupportedModelError

__all__ = ["TableBudgetError", "TreeShapExplainer", "UnsupportedModelError"]
