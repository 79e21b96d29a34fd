"""Calendar feeds in GraphQL: create one (its URL is shown once), list them, revoke one."""
