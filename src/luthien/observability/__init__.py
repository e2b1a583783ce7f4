"""Observability: Prometheus metrics (`metrics`, `endpoint`) and OpenTelemetry tracing (`tracing`)."""
