"""Domain services: explicit arguments, no request globals; they flush, never commit."""
