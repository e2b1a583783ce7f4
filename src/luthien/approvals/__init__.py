"""Human approval of held tool calls: pending approvals, decisions, and where they are kept."""
