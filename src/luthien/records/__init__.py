"""Transaction records: what Luthien keeps of every model call, and the queries over them."""
