"""schemathesis hooks for scripts/fuzz (loaded through SCHEMATHESIS_HOOKS).

Member and module operations run in a sandbox tenant of the default identity. Fuzzed freely
in the main tenant, they lock the run out of it: a module switched off answers 404
`module_not_enabled` to every later request of that module, and once the fuzzer has added a
second owner it may demote or remove the identity itself. The sandbox is another tenant in
which the identity is an owner too (FUZZ_MAIN_TENANT and FUZZ_SANDBOX_TENANT); requests of
the other identity (the object-level authorization replays) keep their own tenant.

Credit adjustments name a member by `user_id`. A generated UUID names nobody (404), so valid
cases adjust alice's own credits (FUZZ_ALICE_ID), a member of the main tenant, and add at
least one credit: taking more than the balance holds is a 409 that depends on state, and an
adjustment of 0 (refused, 422) is a value the schema's range cannot leave out
(tests/api/credits.rs covers both). Negative cases keep what was generated.

A removal of a member names them in the path; the stateful phase finds the ids of members it
added through the document's links, but whether it gets there depends on the order it
explores in. Valid removals name a spare member of both of alice's tenants
(FUZZ_SANDBOX_MEMBER), whom the hook adds back to the sandbox first (as alice, with
FUZZ_ALICE_TOKEN and FUZZ_SANDBOX_MEMBER_EMAIL at FUZZ_BASE_URL), so every one of them reaches
the removal itself.

Payments: valid cases name what exists. A payment's, a product's and a membership's path id
become those scripts/fuzz made (FUZZ_PAYMENT_ID, FUZZ_PRODUCT_ID, FUZZ_SUBSCRIPTION_ID);
manual payments are alice's own, without a product (a generated product id names nothing) and
so with an amount; refunds take one minor unit, so a hundred of them fit the payment; prices
are in the tenant's currency (the field is left out: any other is 422 `currency_mismatch`),
and a product has the fields of its kind, which the schema of one request body cannot tie to
`kind` (tests/api/payments.rs covers the refusals).


Stories (builds with the stories module): a new story needs the one part its `kind` takes, a
rule across fields no schema states, so valid creates post a text story (with the privacy that
was generated). Valid follows, close-friend changes and people lists name the spare member (a
made-up user id is nobody: 404), and valid reads and views of a story name alice's story
(FUZZ_STORY), which deletes leave alone: a valid delete removes a fresh story of its own.
Stickers, highlights and reports name what scripts/fuzz made (a poll on alice's story, alice's
highlight, alice's report on carol's story, which valid resolutions dismiss so it stays); a
highlight delete removes a fresh highlight of its own. Provider credentials are MercadoPago's
(a test token: the deployment is in test mode), provider webhooks name alice's tenant, and a
checkout buys the plan scripts/fuzz made.
"""

import json
import os
import urllib.error
import urllib.request

import schemathesis

try:
    from schemathesis.transport.prepare import get_exclude_headers
except ImportError:  # another schemathesis layout: leave every negative case alone

    def get_exclude_headers(case):
        return ["X-Gym-ID"] if is_negative(case) else []


SANDBOXED = ("/api/v1/members", "/api/v1/modules")
MAIN = os.environ["FUZZ_MAIN_TENANT"]
SANDBOX = os.environ["FUZZ_SANDBOX_TENANT"]
ALICE = os.environ["FUZZ_ALICE_ID"]
ADJUSTMENTS = "/api/v1/credits/adjustments"
SPARE_MEMBER = os.environ["FUZZ_SANDBOX_MEMBER"]
SPARE_EMAIL = os.environ["FUZZ_SANDBOX_MEMBER_EMAIL"]
ALICE_TOKEN = os.environ["FUZZ_ALICE_TOKEN"]
BASE_URL = os.environ["FUZZ_BASE_URL"]
MEMBER = "/api/v1/members/{user_id}"
PRODUCTS = "/api/v1/payments/products"
PRODUCT = "/api/v1/payments/products/{id}"
MANUAL = "/api/v1/payments/manual"
PAYMENT_PATHS = ("/api/v1/payments/{id}", "/api/v1/payments/{id}/refunds")
SUBSCRIPTION_CANCEL = "/api/v1/payments/subscriptions/{id}/cancel"
PRODUCT_ID = os.environ["FUZZ_PRODUCT_ID"]
PAYMENT_ID = os.environ["FUZZ_PAYMENT_ID"]
SUBSCRIPTION_ID = os.environ["FUZZ_SUBSCRIPTION_ID"]
STORY = os.environ.get("FUZZ_STORY", "")
STICKER_STORY = os.environ.get("FUZZ_STICKER_STORY", "")
STICKER = os.environ.get("FUZZ_STICKER", "")
HIGHLIGHT = os.environ.get("FUZZ_HIGHLIGHT", "")
OTHER_STORY = os.environ.get("FUZZ_OTHER_STORY", "")
REPORT = os.environ.get("FUZZ_REPORT", "")
HIGHLIGHTS = "/api/v1/highlights"
STORY_REPORTS = "/api/v1/stories/{story_id}/reports"
PROVIDER_PATHS = ("/api/v1/payments/providers/{provider}", "/api/v1/webhooks/{provider}/{gym_id}")
CHECKOUT = "/api/v1/payments/checkout"
INSIGHTS_MINE = "/api/v1/stories/insights/me"
STORIES = "/api/v1/stories"
PEOPLE = ("/api/v1/users/{user_id}/", "/api/v1/close-friends/{user_id}")
PRIVACY = ("public", "followers", "close_friends", "private")


def restore_spare_member():
    """Adds the spare member back to the sandbox (409 when they are there already)."""
    request = urllib.request.Request(
        BASE_URL + "/api/v1/members",
        data=json.dumps({"email": SPARE_EMAIL, "role": "member"}).encode(),
        headers={
            "Authorization": "Bearer " + ALICE_TOKEN,
            "X-Gym-ID": SANDBOX,
            "Content-Type": "application/json",
        },
        method="POST",
    )
    try:
        urllib.request.urlopen(request, timeout=10).close()
    except urllib.error.HTTPError:
        pass


def is_negative(case):
    return case.meta is not None and case.meta.generation.mode.is_negative


def revalidate(case):
    # Without this, schemathesis re-validates a case a hook edited as if it were generated.
    sync = getattr(case, "_sync_validated_hashes", None)
    if sync is not None:
        sync()


def payments_case(case):
    """Makes a valid payments case name what exists; True when the case was a payments one."""
    path = case.operation.path
    body = case.body if isinstance(case.body, dict) else None
    if path in PAYMENT_PATHS or path == PRODUCT or path == SUBSCRIPTION_CANCEL:
        known = {PRODUCT: PRODUCT_ID, SUBSCRIPTION_CANCEL: SUBSCRIPTION_ID}.get(path, PAYMENT_ID)
        case.path_parameters = {**(case.path_parameters or {}), "id": known}
    elif path not in (PRODUCTS, MANUAL):
        return False
    if body is not None:
        body.pop("currency", None)
        if path == MANUAL:
            body["member_id"] = ALICE
            body.pop("product_id", None)
            body["amount_minor"] = abs(body.get("amount_minor") or 0) or 100
        elif path == PRODUCT:
            # The kind is not in the request: leave its kind's fields alone.
            for field in ("credits", "interval", "interval_count"):
                body.pop(field, None)
        elif path == PRODUCTS and body.get("kind") == "plan":
            body.pop("credits", None)
            body.setdefault("interval", "month")
        elif path == PRODUCTS and body.get("kind") == "credit_package":
            body.pop("interval", None)
            body.pop("interval_count", None)
            body.setdefault("credits", 100)
        elif path == PAYMENT_PATHS[1]:
            body["amount_minor"] = 1
    revalidate(case)
    return True


def call_as_alice(method, path, body):
    """Alice's request in her main tenant; the answer's JSON (None on an error)."""
    request = urllib.request.Request(
        BASE_URL + path,
        data=None if body is None else json.dumps(body).encode(),
        headers={
            "Authorization": "Bearer " + ALICE_TOKEN,
            "X-Gym-ID": MAIN,
            "Content-Type": "application/json",
        },
        method=method,
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read() or b"null")
    except (urllib.error.URLError, ValueError):
        return None


# The fresh highlights made for deletes of a highlight's stories, deleted after the case.
FRESH_HIGHLIGHTS = set()


def make_room():
    """Keeps alice well under her 100 highlights (valid creates would otherwise start failing,
    and with them the fresh highlights deletes use): past 80, the oldest but the shared one
    go."""
    mine = call_as_alice("GET", "/api/v1/users/" + ALICE + "/highlights", None) or {}
    items = [item for item in mine.get("items", []) if item.get("id") != HIGHLIGHT]
    if len(items) < 80:
        return
    items.sort(key=lambda item: item.get("created_at", ""))
    for item in items[: len(items) - 40]:
        call_as_alice("DELETE", HIGHLIGHTS + "/" + item["id"], None)


def title_or(value, fallback):
    """A title the API takes (1-50 characters, not blank), else `fallback`."""
    if isinstance(value, str) and value.strip() and len(value) <= 50:
        return value
    return fallback


def highlights(case, path, method, params, body):
    """Valid highlight cases name alice's highlight (a delete, a fresh one of its own) and send
    a cover and title the API takes: whether a story or upload is alice's is state a schema
    cannot state."""
    if "highlight_id" in params and HIGHLIGHT:
        target = HIGHLIGHT
        if method == "DELETE":
            make_room()
            # Deletes (of a highlight, or of its stories) work on a fresh highlight of their
            # own, holding alice's story, so the shared one stays as it is; after_call removes
            # what a delete of stories leaves.
            fresh = call_as_alice(
                "POST",
                HIGHLIGHTS,
                {"title": "Fuzz", "cover": {"kind": "color", "color": "#336699"}, "story_ids": [STORY]},
            )
            target = (fresh or {}).get("id", params["highlight_id"])
            # (Never the shared one: a failed create leaves the generated id, a 404.)
            FRESH_HIGHLIGHTS.add(target)
        case.path_parameters = {**params, "highlight_id": target}
    if path == HIGHLIGHTS + "/reorder" and body is not None:
        # A reorder names each of alice's highlights once: the fuzzer cannot know which.
        mine = call_as_alice("GET", "/api/v1/users/" + ALICE + "/highlights", None)
        ids = [item["id"] for item in (mine or {}).get("items", [])]
        body["highlight_ids"] = list(reversed(ids))
    if body is not None:
        if "cover" in body:
            body["cover"] = {"kind": "emoji", "emoji": "\U0001F525"}
        if path == HIGHLIGHTS and method == "POST":
            make_room()
            body["title"] = title_or(body.get("title"), "Fuzz")
            body["story_ids"] = [STORY]
        elif "title" in body:
            body["title"] = title_or(body.get("title"), "Fuzz")
        if "story_ids" in body and path.endswith("/stories"):
            body["story_ids"] = [STORY]


def stickers_reports_providers(case, path, method, params, body):
    """Valid sticker, report, provider and checkout cases name what exists: the poll on alice's
    story (a vote takes an option of it), a report on carol's story (dismissed, so the story
    stays), the providers by name and the tenant of alice; True when the case was one."""
    if "sticker_id" in params and STICKER:
        case.path_parameters = {**params, "story_id": STICKER_STORY, "sticker_id": STICKER}
        if body is not None:
            option = body.get("option")
            case.body = {"option": option if option in (0, 1) else 0}
        return True
    if path == STORY_REPORTS and OTHER_STORY:
        case.path_parameters = {**params, "story_id": OTHER_STORY}
        return True
    if "report_id" in params and REPORT:
        case.path_parameters = {**params, "report_id": REPORT}
        if body is not None:
            body["action"] = "dismiss"
        return True
    if path in PROVIDER_PATHS:
        provider = "mercadopago" if path == PROVIDER_PATHS[0] else "stripe"
        case.path_parameters = {**params, "provider": provider}
        if "gym_id" in params:
            case.path_parameters["gym_id"] = MAIN
        if body is not None and method == "PUT":
            case.body = {"access_token": "TEST-fuzz-access-token", "webhook_secrets": ["fuzz-secret"]}
        return True
    if path == CHECKOUT and body is not None:
        body["product_id"] = PRODUCT_ID
        return True
    return False


def stories(case):
    """Valid story cases reach past 404 and 422; True when the case was one of them."""
    if is_negative(case):
        return False
    path, method = case.operation.path, case.method.upper()
    params = case.path_parameters or {}
    body = case.body if isinstance(case.body, dict) else None
    if path.startswith(HIGHLIGHTS) or path.startswith("/api/v1/users/{user_id}/highlights"):
        if path.startswith(HIGHLIGHTS):
            highlights(case, path, method, params, body)
            revalidate(case)
            return True
    if stickers_reports_providers(case, path, method, params, body):
        revalidate(case)
        return True
    if path == INSIGHTS_MINE:
        # `from`/`to` are dates (`naive-date`, a format the fuzzer does not know, so it sends
        # any text) within 90 days of each other: valid cases take the default range.
        case.query = {}
        revalidate(case)
        return True
    if path == STORIES and method == "POST" and isinstance(case.body, dict):
        privacy = case.body.get("privacy")
        case.body = {
            "kind": "text",
            "privacy": privacy if privacy in PRIVACY else "public",
            "text": {"text": "Fuzzed", "background_color": "#336699"},
        }
        revalidate(case)
        return True
    params = case.path_parameters or {}
    if "user_id" in params and path.startswith(PEOPLE):
        case.path_parameters = {**params, "user_id": SPARE_MEMBER}
        revalidate(case)
        return True
    if path == STORIES + "/{story_id}" and method == "DELETE" and STORY:
        # A delete removes a fresh story of alice's, so the shared ones stay.
        fresh = call_as_alice(
            "POST",
            STORIES,
            {"kind": "text", "text": {"text": "Fuzzed", "background_color": "#336699"}},
        )
        if fresh and "id" in fresh:
            case.path_parameters = {**params, "story_id": fresh["id"]}
            revalidate(case)
        return True
    if "story_id" in params and STORY and method != "DELETE":
        case.path_parameters = {**params, "story_id": STORY}
        revalidate(case)
        return True
    return False


@schemathesis.hook
def before_call(context, case, **kwargs):
    if case.operation.path.startswith("/api/v1/payments/") and not is_negative(case):
        if payments_case(case):
            return
    if stories(case):
        return
    if case.operation.path == ADJUSTMENTS:
        if not is_negative(case) and isinstance(case.body, dict) and "user_id" in case.body:
            case.body["user_id"] = ALICE
            if isinstance(case.body.get("amount"), int):
                case.body["amount"] = abs(case.body["amount"]) or 1
            revalidate(case)
        return
    if case.operation.path == MEMBER and case.method.upper() == "DELETE" and not is_negative(case):
        case.path_parameters = {**(case.path_parameters or {}), "user_id": SPARE_MEMBER}
        restore_spare_member()
        revalidate(case)
    if not case.operation.path.startswith(SANDBOXED) or not case.headers:
        return
    # A case that leaves the header out on purpose keeps it out: setting it here would turn
    # the missing-header probe into an ordinary request.
    if any(name.lower() == "x-gym-id" for name in get_exclude_headers(case)):
        return
    if case.headers.get("X-Gym-ID") == MAIN:
        case.headers["X-Gym-ID"] = SANDBOX
        # The tenant is not what the case tests: a negative case (a malformed X-Gym-ID that
        # the identity's fixed header already replaced) would otherwise be counted as valid
        # data the API refused.
        revalidate(case)


@schemathesis.hook
def after_call(context, case, response):
    path, method = case.operation.path, case.method.upper()
    if path == HIGHLIGHTS + "/{highlight_id}/stories" and method == "DELETE":
        target = (case.path_parameters or {}).get("highlight_id")
        if target in FRESH_HIGHLIGHTS and target != HIGHLIGHT:
            FRESH_HIGHLIGHTS.discard(target)
            call_as_alice("DELETE", HIGHLIGHTS + "/" + target, None)
