"""The normalized view of a call that policies see: request, events, codec protocol, repairer."""
