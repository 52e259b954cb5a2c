"""The integration API: per-library tokens with scopes, an OpenAPI schema, rate limits."""
