"""The Azure actions the portal checks a person's rights for (ARM's permissions API), in one leaf module: the
inventory needs the whole list to know when a subscription's rights already answer for its groups."""

from __future__ import annotations

JIT = "Microsoft.Security/locations/jitNetworkAccessPolicies"
# The rights Defender for Cloud documents for JIT ("Permissions needed to configure and use JIT").
CONFIGURE = (f"{JIT}/write", "Microsoft.Compute/virtualMachines/write")
REQUEST = (
    f"{JIT}/initiate/action",
    f"{JIT}/read",
    "Microsoft.Compute/virtualMachines/read",
    "Microsoft.Network/networkInterfaces/read",
    "Microsoft.Network/publicIPAddresses/read",
)
READ = "Microsoft.Compute/virtualMachines/read"
DELETE_ACTION = "Microsoft.Network/networkSecurityGroups/securityRules/delete"  # an NSG rule, from a VM's health
# Every action a page checks on a VM's resource group through `Inventory.permissions`.
CHECKED = (*CONFIGURE, *REQUEST, DELETE_ACTION)
