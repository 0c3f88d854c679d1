#!/usr/bin/python3 -I
"""`hobo-manage` stand-in of the Publik sandbox (installed as `$STATE/bin/hobo-manage`).

Standard library only, and deliberately not importing publik_acceptance: its recipe handling is
an independent implementation of hobo's `cook` semantics, so it checks the suite's recipe code
rather than mirroring it. `cook` loads the recipe like hobo (JSON, `load-variables-from`
relative to the recipe file, `variables`, `${var}` through string.Template.substitute), records
the services and hands them to the sandbox agent (the hobo-agent stand-in), which deploys them
asynchronously. Without `--timeout` cook returns at once; with `--timeout N` it then waits, as
integrators run it, until the agent reports every service of the recipe deployed, or N seconds have
passed: then it prints "CommandError: timeout waiting for <url>" on stderr and exits 1 (a Django
CommandError) while the deployment goes on. Faults: cook-times-out-waiting (the agent deploys the
service after the timeout), cook-ok-service-failed (cook takes the service for operational and exits
0; the agent never deploys it).

Every invocation is logged as one JSON line (argv, user, uid, time, cwd) — never the recipe's
contents: the create-superuser step carries a password injected at cook time.
"""

import argparse
import hashlib
import json
import os
import pwd
import string
import sys
import time
from urllib.parse import urlsplit

STATE = "@STATE@"  # replaced at install

SERVICE_ACTIONS = {
    "create-hobo": "hobo",
    "create-authentic": "authentic",
    "create-combo": "combo",
    "create-wcs": "wcs",
    "create-passerelle": "passerelle",
    "create-fargo": "fargo",
    "create-chrono": "chrono",
    "create-bijoe": "bijoe",
    "create-lingo": "lingo",
    "create-welco": "welco",
}
CONFIG_ACTIONS = {
    "create-superuser", "set-idp", "set-theme", "set-variable", "set-attribute", "enable-attribute",
    "disable-attribute", "create-site", "add-login-button",
}
USAGE = """\
usage: hobo-manage cook [-h] [--timeout TIMEOUT] [--permissive] [-v {0,1,2,3}] recipe [recipe ...]

Cook a recipe: create the services it lists and configure them (publik sandbox stand-in).

positional arguments:
  recipe                JSON recipe file(s)

options:
  -h, --help            show this help message and exit
  --timeout TIMEOUT     seconds to wait for the services to be deployed (without it, cook returns at once)
  --permissive          accepted for compatibility
  -v {0,1,2,3}, --verbosity {0,1,2,3}
                        verbosity level; 2 prints each step
"""


class CookError(Exception):
    pass


def _path(*parts):
    return os.path.join(STATE, *parts)


def log_invocation(argv):
    entry = {
        "time": time.time(),
        "argv": ["hobo-manage", *argv[1:]],
        "user": pwd.getpwuid(os.geteuid()).pw_name,
        "uid": os.getuid(),
        "euid": os.geteuid(),
        "cwd": os.getcwd() if os.access(".", os.R_OK) else None,
        "pid": os.getpid(),
    }
    try:
        with open(_path("standin", "invocations.jsonl"), "a", encoding="utf-8") as fh:
            fh.write(json.dumps(entry) + "\n")
    except OSError as exc:
        print(f"warning: cannot write the invocation log: {exc.strerror}", file=sys.stderr)


def _faults():
    try:
        with open(_path("faults.json"), encoding="utf-8") as fh:
            return json.load(fh)
    except (OSError, ValueError):
        return []


def active_faults():
    return {f["name"] for f in _faults()}


def fault_hosts(name):
    return {h for f in _faults() if f["name"] == name for h in f.get("hostnames", [])}


def events_size():
    """Where the agent's event log ends now: only what it logs after this counts for this cook."""
    try:
        return os.path.getsize(_path("agent", "events.jsonl"))
    except OSError:
        return 0


def deployed_since(offset):
    """Hostnames the agent reported deployed (or refreshed) after `offset` in its event log."""
    hosts = set()
    try:
        with open(_path("agent", "events.jsonl"), encoding="utf-8") as fh:
            fh.seek(offset)
            for line in fh:
                try:
                    event = json.loads(line)
                except ValueError:
                    continue
                if event.get("event") in ("deployed", "updated"):
                    hosts.add(event.get("host"))
    except OSError:
        pass
    return hosts


def wait_operational(services, timeout, offset, trusted, say):
    """Like hobo's cook --timeout: wait for each service; the first URL still pending at the end, or None."""
    pending = [e["base_url"] for e in services if urlsplit(e["base_url"]).hostname not in trusted]
    deadline = time.monotonic() + timeout
    say(f"Waiting for {len(pending)} service(s) to be deployed (--timeout {timeout})")
    while pending:
        done = deployed_since(offset)
        pending = [url for url in pending if urlsplit(url).hostname not in done]
        if not pending:
            break
        if time.monotonic() >= deadline:
            return pending[0]
        time.sleep(0.2)
    return None


def load_recipe(path):
    """Steps of a recipe as (action, params) with variables substituted; CookError otherwise."""
    try:
        with open(path, encoding="utf-8") as fh:
            recipe = json.load(fh)
    except OSError as exc:
        raise CookError(f"cannot read recipe {path}: {exc.strerror}") from None
    except ValueError as exc:
        raise CookError(f"recipe {path} is not valid JSON: {exc}") from None
    if not isinstance(recipe, dict):
        raise CookError(f"recipe {path} is not a JSON object")
    variables = {}
    if "load-variables-from" in recipe:
        vpath = os.path.join(os.path.dirname(os.path.abspath(path)), recipe["load-variables-from"])
        try:
            with open(vpath, encoding="utf-8") as fh:
                variables.update(json.load(fh))
        except (OSError, ValueError) as exc:
            raise CookError(f"cannot load variables from {vpath}: {exc}") from None
    variables.update(recipe.get("variables") or {})
    steps = []
    for index, step in enumerate(recipe.get("steps") or [], 1):
        if not isinstance(step, dict) or len(step) != 1:
            raise CookError(f"step {index}: expected an object with a single action")
        ((action, params),) = step.items()
        if action not in SERVICE_ACTIONS and action not in CONFIG_ACTIONS:
            raise CookError(f"step {index}: unknown action {action!r}")
        params = dict(params or {})
        for key, value in params.items():
            if isinstance(value, str):
                try:
                    params[key] = string.Template(value).substitute(variables)
                except KeyError as exc:
                    raise CookError(f"step {index} ({action}): undefined variable "
                                    f"${{{exc.args[0]}}} in {key!r}") from None
                except ValueError:
                    raise CookError(f"step {index} ({action}): invalid placeholder in {key!r}") from None
        if action in SERVICE_ACTIONS and not params.get("url"):
            raise CookError(f"step {index} ({action}): missing url")
        steps.append((action, params))
    return steps


def hand_to_agent(services, variables, timeout=None):
    """Like hobo broadcasting the environment to hobo-agent: one message, deployed asynchronously.
    `timeout` (cook's --timeout) lets the agent time the faults that depend on it."""
    queue = _path("agent", "queue")
    name = f"{time.time():.6f}-{os.getpid()}.json"
    tmp = os.path.join(queue, "." + name)
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump({"services": services, "variables": variables, "cook_timeout": timeout}, fh)
    os.rename(tmp, os.path.join(queue, name))


def known_services():
    try:
        with open(_path("standin", "services.json"), encoding="utf-8") as fh:
            return json.load(fh)
    except (OSError, ValueError):
        return {}


def save_services(known):
    tmp = _path("standin", ".services.json")
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(known, fh, indent=1)
    os.rename(tmp, _path("standin", "services.json"))


def cook(args):
    parser = argparse.ArgumentParser(prog="hobo-manage cook", add_help=True)
    parser.add_argument("recipe", nargs="+")
    parser.add_argument("--timeout", type=int, default=None)
    parser.add_argument("--permissive", action="store_true")
    parser.add_argument("-v", "--verbosity", type=int, choices=(0, 1, 2, 3), default=1)
    options = parser.parse_args(args)
    say = print if options.verbosity >= 2 else (lambda *a, **k: None)
    faults = active_faults()
    for recipe_path in options.recipe:
        steps = load_recipe(recipe_path)
        say(f"Cooking {os.path.abspath(recipe_path)} ({len(steps)} steps)")
        known = known_services()
        services, variables = [], {}
        for action, params in steps:
            if action in SERVICE_ACTIONS:
                kind = SERVICE_ACTIONS[action]
                url = params["url"]
                entry = {
                    "service-id": kind,
                    "slug": params.get("slug") or (params.get("template_name") if kind == "combo" else kind),
                    "title": params.get("title") or kind,
                    "base_url": url,
                    "template_name": params.get("template_name") or "",
                }
                verb = "Updating" if url in known else "Creating"
                known[url] = entry
                services.append(entry)
                say(f"  {action}: {verb} {kind} service {url}")
                if kind == "hobo" and "cook-fails" in faults:
                    save_services(known)
                    print("CommandError: error while deploying services: [Errno 111] Connection refused "
                          "(message broker unreachable)", file=sys.stderr)
                    return 1
            elif action == "create-superuser":
                has_password = "password" in params
                say(f"  create-superuser: {params.get('email', 'admin')} "
                    f"({'password set' if has_password else 'no password'})")
            elif action == "set-variable":
                variables[params.get("name", "")] = params.get("value")
                say(f"  set-variable: {params.get('name')}")
            elif action == "set-theme":
                # hobo stores the theme as the global variable `theme`, broadcast in hobo.json.
                if not params.get("theme"):
                    raise CookError("set-theme: missing theme")
                variables["theme"] = params["theme"]
                say(f"  set-theme: {params['theme']}")
            else:
                say(f"  {action}: done")
        save_services(known)
        if "cook-hangs" in faults:
            say("Waiting for services to be deployed…")
            sys.stdout.flush()
            hung = _path("standin", "hung", str(os.getpid()))
            with open(hung, "w", encoding="utf-8") as fh:
                fh.write(str(os.getpid()))
            time.sleep(3600)
            return 1
        offset = events_size()
        hand_to_agent(services, variables, options.timeout)
        say(f"  {len(services)} service(s) handed to the agents; deployment continues asynchronously")
        if options.timeout is not None:
            late = wait_operational(services, options.timeout, offset, fault_hosts("cook-ok-service-failed"), say)
            if late is not None:
                sys.stdout.flush()
                print(f"CommandError: timeout waiting for {late}", file=sys.stderr)
                return 1
            say("  every service is deployed")
    return 0


def manage_name(argv):
    """Which manage command this is: the stand-in is installed as hobo-manage and as the other Django
    services' commands (combo-manage, authentic2-multitenant-manage…); only hobo-manage cooks."""
    name = os.path.basename(argv[0]) if argv else "hobo-manage"
    return name if name.endswith("-manage") else "hobo-manage"


def hostname2schema(host, mapping):
    """hobo's multitenant rule: TENANT_MAPPING first, else the hostname with `.` and `-` as `_`,
    names over 63 characters shortened (29 chars, `_`, 4 hex digits of MD5, `_`, the last 28)."""
    if host in mapping:
        return mapping[host]
    schema = host.replace(".", "_").replace("-", "_")
    if len(schema) > 63:
        schema = f"{schema[:29]}_{hashlib.md5(schema.encode()).hexdigest()[:4]}_{schema[-28:]}"
    return schema


def list_tenants(name):
    """`<schema> <hostname>` per tenant directory of this service, as hobo's multitenant list_tenants
    prints them: read from the tenant directories on disk and the service's settings (its
    TENANT_MAPPING, here `$ROOT/etc/<service>/tenant-mapping.json`), never from the suite."""
    lib = name[: -len("-manage")]
    base = _path("root", "var", "lib", lib, "tenants")
    try:
        with open(_path("root", "etc", lib, "tenant-mapping.json"), encoding="utf-8") as fh:
            mapping = json.load(fh)
    except (OSError, ValueError):
        mapping = {}
    for host in sorted(os.listdir(base)) if os.path.isdir(base) else []:
        if not host.startswith(".") and os.path.isdir(os.path.join(base, host)):
            print(hostname2schema(host, mapping), host)
    return 0


def main(argv):
    name = manage_name(argv)
    if name == "hobo-manage":  # the log is hobo's: the other services' users may not write it
        log_invocation(argv)
    command = argv[1] if len(argv) > 1 else "help"
    try:
        if command == "cook" and name == "hobo-manage":
            return cook(argv[2:])
        if command == "list_tenants":
            return list_tenants(name)
        if command in ("help", "--help", "-h"):
            if argv[2:3] == ["cook"]:
                print(USAGE, end="")
            else:
                print("Type 'hobo-manage help <subcommand>' for help on a specific subcommand.\n\n"
                      "Available subcommands:\n\n[hobo]\n    cook\n    list_tenants")
            return 0
    except CookError as exc:
        print(f"CommandError: {exc}", file=sys.stderr)
        return 1
    print(f"Unknown command: {command!r}\nType 'hobo-manage help' for usage.", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
