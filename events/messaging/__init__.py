"""The messaging runtime: Kafka clients, the consumer and its inbox, the outbox and its relay, dead
letters, offsets, topics and the local brokers. It uses events.contracts and nothing above it."""
