"""jit: the jitportal command. No Django here: it speaks to the portal's API and to Entra ID only."""

__version__ = "0.1.0"
