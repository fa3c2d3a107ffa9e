"""Model selection: candidate pools, frozen features, transferability scorers, ranking evaluation."""
