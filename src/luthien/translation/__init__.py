"""Translation between the client APIs and the upstream APIs (Messages, Chat Completions, Responses)."""
