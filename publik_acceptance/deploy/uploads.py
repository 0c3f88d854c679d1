"""What a cook puts on the servers: modele.zip, written by the w.c.s. user, and the recipe, in a private directory.

Root never acts by path in a directory another user can write: the skeleton is written by the w.c.s.
user itself (mktemp, checksum, rename), the recipe by the cook user in a `mktemp -d` (it holds the
superuser password) that the cook removes whatever happens.
"""

from __future__ import annotations

import hashlib
import re
import shlex

from publik_acceptance.config.catalogue import SERVICE_KINDS
from publik_acceptance.config.environment import Environment
from publik_acceptance.deploy.result import CookRefused
from publik_acceptance.deploy.shell import Remote, failure, script
from publik_acceptance.deploy.skeleton import render_for_environment
from publik_acceptance.deploy.wrapper import MARKER
from publik_acceptance.evidence.probes.privilege import Privilege, privilege
from publik_acceptance.evidence.probes.remote import SshPool
from publik_acceptance.plan import Plan

# The skeleton, written by the w.c.s. user itself: never a root file operation in its directory.
# $1 directory, $2 file name, $3 sha256, $4 the w.c.s. user.
_SKELETON_UPLOAD = r"""
dir=$1; name=$2; digest=$3; owner=$4
[ -L "$dir" ] && { echo "$dir is a symbolic link: refused" >&2; exit 5; }
[ -e "$dir" ] || mkdir -p -m 0755 -- "$dir" || exit 5
[ -d "$dir" ] || { echo "$dir is not a directory: refused" >&2; exit 5; }
o=$(stat -c %U -- "$dir")
[ "$o" = "$owner" ] || [ "$o" = root ] || { echo "$dir is owned by $o, not $owner or root: refused" >&2; exit 5; }
umask 027
tmp=$(mktemp -p "$dir" .upload-XXXXXXXXXX) || exit 1
trap 'rm -f -- "$tmp"' EXIT HUP INT TERM
cat > "$tmp" || exit 1
[ "$(sha256sum < "$tmp" | cut -c1-64)" = "$digest" ] || { echo "upload incomplete (checksum differs)" >&2; exit 1; }
chmod 0640 -- "$tmp" && mv -T -f -- "$tmp" "$dir/$name"
"""

# A private directory of the cook user for the recipe (exclusive creation, 0700). $1 upload dir,
# $2 name prefix carrying the marker.
_RECIPE_DIR = 'umask 077; mktemp -d -p "$1" "$2.XXXXXXXXXX"'
# The recipe inside it, never over an existing file, checked. $1 file, $2 sha256.
_RECIPE_WRITE = ('set -C; umask 077; cat > "$1" && [ "$(sha256sum < "$1" | cut -c1-64)" = "$2" ] '
                 '|| { rm -f -- "$1"; echo "upload incomplete or refused" >&2; exit 1; }')
# Remove it all, and say whether it is gone. $1 the recipe directory.
_RECIPE_REMOVE = 'rm -rf -- "$1" && ! test -e "$1"'


def skeleton_bytes(plan: Plan) -> bytes | None:
    """modele.zip rendered for the environment; None when no w.c.s. is cooked or the environment provides none."""
    if not any(t.kind == "wcs" for t in plan.targets):
        return None
    if plan.environment.wcs.skeleton is None and plan.environment.wcs.skeleton_file is None:
        return None
    return render_for_environment(plan.environment)


def skeleton_targets(plan: Plan) -> list[tuple[str, str]]:
    """(role, path) of each skeleton file to write: one per w.c.s. server and template name."""
    directory = plan.environment.server_path(plan.environment.wcs.skeletons_dir)
    pairs = {(t.server, f"{directory}/{t.template_name or 'default.zip'}") for t in plan.targets if t.kind == "wcs"}
    return sorted(pairs)


def wcs_user(env: Environment) -> str:
    return env.service("wcs").owner or SERVICE_KINDS["wcs"].owner


def upload_skeleton(pool: SshPool, env: Environment, role: str, path: str, data: bytes, digest: str) -> bool:
    """Write `data` (sha256 `digest`) to `path` on `role` as the w.c.s. user; False when it is already there."""
    owner = wcs_user(env)
    as_owner = privilege(pool, role).as_user(owner)
    check = pool.run(role, f"{as_owner}sha256sum -- {shlex.quote(path)} 2>/dev/null || true")
    if check.stdout.split()[:1] == [digest]:
        return False
    directory, _, name = path.rpartition("/")
    upload = pool.run(role, script(as_owner, _SKELETON_UPLOAD, directory, name, digest, owner), stdin=data)
    if upload.exit_status != 0:
        raise CookRefused(f"could not upload the skeleton to {path} on role {role} as {owner}: {failure(upload)}")
    return True


def recipe_dir(remote: Remote, env: Environment, login: Privilege, instance: str, token: str) -> str:
    """A new private directory of the cook user in cook.upload_dir, its name carrying the cook's marker
    (`login`: the hobo server's SSH login)."""
    upload_dir = env.cook.upload_dir.rstrip("/") or "/"
    label = re.sub(r"[^A-Za-z0-9_-]", "_", instance)[:40]  # a readable name, never a path or a pattern
    made = remote(script(login.as_user(env.cook.user), _RECIPE_DIR, upload_dir, f"{MARKER}{token}-{label}"))
    path = made.stdout.strip()
    expected = f"{upload_dir.rstrip('/')}/{MARKER}{token}-"
    if made.exit_status != 0 or not path.startswith(expected) or "\n" in path or ".." in path:
        raise CookRefused(f"could not create a private directory in {upload_dir} as {env.cook.user}: "
                          f"{failure(made)}")
    return path


def write_recipe(remote: Remote, env: Environment, login: Privilege, path: str, document: bytes) -> None:
    """The recipe at `path` in its private directory, as the cook user, never over an existing file, checked."""
    write = remote(script(login.as_user(env.cook.user), _RECIPE_WRITE, path, hashlib.sha256(document).hexdigest()),
                   stdin=document)
    if write.exit_status != 0:
        raise CookRefused(f"could not write the recipe to {path} as {env.cook.user}: {failure(write)}")


def remove_recipe_dir(remote: Remote, env: Environment, login: Privilege, directory: str) -> bool:
    """Remove the recipe's directory as the cook user: True once it no longer exists."""
    done = remote(script(login.as_user(env.cook.user), _RECIPE_REMOVE, directory))
    return done.exit_status == 0
