"""Outbound HTTP integrations (translation providers, webhooks) on the shared httpx client."""
