"""The sandbox's connection facts, published as a real tenant's would be: plain configuration for the
portal's environment, so that nothing outside the sandbox needs to import it."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from . import demo


def environment(base_url: str, ca_path: Path) -> dict[str, str]:
    return {
        "AZURE_TENANT_ID": demo.TENANT_ID,
        "AZURE_CLIENT_ID": demo.CLIENT_ID,
        "AZURE_CLIENT_SECRET": demo.CLIENT_SECRET,
        "AZURE_CLI_CLIENT_ID": demo.CLI_CLIENT_ID,  # the jit command's public client (README: From the terminal)
        "AZURE_AUTHORITY": f"{base_url}/{demo.TENANT_ID}",
        "AZURE_ARM_URL": base_url,
        "AZURE_CA_BUNDLE": str(ca_path),
        # Entra ID's instance discovery would ask login.microsoftonline.com about an authority it cannot know.
        "AZURE_INSTANCE_DISCOVERY": "false",
    }


def write_env_file(path: Path, values: dict[str, str]) -> None:
    """Write KEY=VALUE lines readable by the owner only; readers never see a half-written file."""
    lines = [
        "# Connection settings of the local Azure sandbox (python -m sandbox), for the portal's environment",
        *(f"{key}={value}" for key, value in values.items()),
    ]
    # mkstemp creates the file 0600, so the client secret is never readable by others, not even briefly.
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w") as file:
        file.write("\n".join(lines) + "\n")
    os.replace(tmp, path)
