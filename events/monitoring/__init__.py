"""On-call monitoring: consumer lag by Burrow's rules, commands waiting for responses, flags, /metrics
of every process, and the admin monitoring page with its history."""
