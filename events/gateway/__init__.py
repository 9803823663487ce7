"""The events-bus HTTP gateway: other teams' producers write events through it, validated, to Kafka."""
