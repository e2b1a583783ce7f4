"""OpenAI Responses: its codec to and from normalized events, and its requests to and from the hub."""
