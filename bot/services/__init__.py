"""Application services: the logic behind commands and sources, free of Telegram types."""
