"""Localpost's SMTP gateway: receives mail on SMTP and submission and hands it to RabbitMQ."""
