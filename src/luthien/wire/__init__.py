"""Wire formats: SSE framing, the three client APIs, and error shapes."""
