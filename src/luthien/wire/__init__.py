"""The wire: SSE framing, wire events, what every client API is on the wire, dialects, error shapes."""
