"""Self-tests of the sandbox platform (publik_sandbox): its configuration, stand-ins, faults and tasks."""
