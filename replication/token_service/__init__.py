"""The portal as the token service of every regional registry: signing keys and JWTs (no views, no rules)."""
