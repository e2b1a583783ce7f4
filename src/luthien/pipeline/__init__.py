"""The response pipeline: wire bytes → events → policy stage → events → wire bytes."""
