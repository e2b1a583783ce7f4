"""Shadow policies: policies that see every call like the enforcing one, whose output is only recorded."""
