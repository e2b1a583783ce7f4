"""Live events: small notices of what the gateway is doing, fanned out to every monitor."""
