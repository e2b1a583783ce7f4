"""Activity events: what happened during a call (decisions, repairs, errors), for records and monitors."""
