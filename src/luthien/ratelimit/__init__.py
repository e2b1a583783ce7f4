"""Rate limits per client key and per model, and daily token budgets (`limits` library; memory or Redis)."""
