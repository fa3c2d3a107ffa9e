"""codereuse: reuse pre-trained code models cheaply - select, freeze, adapt, compress."""
