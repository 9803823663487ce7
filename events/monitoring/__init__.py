"""On-call monitoring: consumer lag by Burrow's rules (sampler, Burrow v3 JSON endpoints, gauges)."""
