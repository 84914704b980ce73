"""The audit log: who read, exported, changed, published or deleted what, from where — one hash chain."""
