"""The sandbox: a local Publik-like platform made of real servers on loopback addresses.

    from publik_sandbox import Sandbox
    sb = Sandbox(state_dir="/tmp/publik-sandbox", instances=1)
    sb.up(faults=["tls-expired:authentic"])
    # a fleet over a slow network: 50 instances, +20 ms per new frontend connection and DNS answer
    Sandbox(instances=50, latency_ms=20).up(faults=["http-502:passerelle@ville07"])
    sb.status(); sb.cook_invocations(); sb.env_file
    sb.down()

The same through invoke: `inv sandbox.up|down|status|faults` (publik_sandbox/tasks.py).
"""

from publik_sandbox.config import DEFAULT_STATE_DIR, Network, SandboxConfig, StatePaths
from publik_sandbox.faults import CATALOGUE, Fault, FaultError
from publik_sandbox.lifecycle import Sandbox, SandboxError

__all__ = [
    "CATALOGUE",
    "DEFAULT_STATE_DIR",
    "Fault",
    "FaultError",
    "Network",
    "Sandbox",
    "SandboxConfig",
    "SandboxError",
    "StatePaths",
]
