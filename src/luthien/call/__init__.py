"""The normalized view of a call that policies see, and the codecs between it and each wire format."""
