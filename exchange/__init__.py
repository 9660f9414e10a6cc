"""Exchange with government systems: the transactional outbox, delivery, the message log."""
