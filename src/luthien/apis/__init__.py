"""One package per client API (its wire shape, codec and request translation), and their registry."""
