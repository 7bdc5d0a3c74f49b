"""schemathesis hooks for scripts/fuzz (loaded through SCHEMATHESIS_HOOKS).

Member and module operations run in a sandbox tenant of the default identity. Fuzzed freely
in the main tenant, they lock the run out of it: a module switched off answers 404
`module_not_enabled` to every later request of that module, and once the fuzzer has added a
second owner it may demote or remove the identity itself. The sandbox is another tenant in
which the identity is an owner too (FUZZ_MAIN_TENANT and FUZZ_SANDBOX_TENANT); requests of
the other identity (the object-level authorization replays) keep their own tenant.
"""

import os

import schemathesis

try:
    from schemathesis.transport.prepare import get_exclude_headers
except ImportError:  # another schemathesis layout: leave every negative case alone

    def get_exclude_headers(case):
        negative = case.meta is not None and case.meta.generation.mode.is_negative
        return ["X-Gym-ID"] if negative else []


SANDBOXED = ("/api/v1/members", "/api/v1/modules")
MAIN = os.environ["FUZZ_MAIN_TENANT"]
SANDBOX = os.environ["FUZZ_SANDBOX_TENANT"]


@schemathesis.hook
def before_call(context, case, **kwargs):
    if not case.operation.path.startswith(SANDBOXED) or not case.headers:
        return
    # A case that leaves the header out on purpose keeps it out: setting it here would turn
    # the missing-header probe into an ordinary request.
    if any(name.lower() == "x-gym-id" for name in get_exclude_headers(case)):
        return
    if case.headers.get("X-Gym-ID") == MAIN:
        case.headers["X-Gym-ID"] = SANDBOX
        # The tenant is not what the case tests: without this, schemathesis re-validates a
        # case a hook edited, and a negative case (a malformed X-Gym-ID that the identity's
        # fixed header already replaced) would be counted as valid data the API refused.
        sync = getattr(case, "_sync_validated_hashes", None)
        if sync is not None:
            sync()
