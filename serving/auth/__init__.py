"""Authentication and roles for every HTTP route (bearer JWT)."""
