"""The API's resources: one noun class per module, collaborators passed in."""
