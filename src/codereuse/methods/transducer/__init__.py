"""Transducer Tuning: a frozen backbone read through a small graph-aware input adapter.

The Graph Vectorization Engine (``gve``) turns each example's code property graph into node
vectors; the Attention-Based Fusion Layer (``fusion``) lets every token attend to the nodes of its
own graph and adds the result to the token's input embedding; ``module.TransducerModule`` wires
them in front of the frozen backbone through ``TaskModel.input_fusion``. ``graph_only.GraphOnlyModule``
is the control without the backbone: the GVE's node vectors, pooled per example, into the task head.
"""
