"""Front door of the suite: the plugin does the work (options, Plan, phases, report)."""

pytest_plugins = ["publik_acceptance.pytest_plugin"]
