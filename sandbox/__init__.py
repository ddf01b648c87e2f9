"""A local stand-in for Entra ID and Azure Resource Manager that the real clients cannot tell apart."""
