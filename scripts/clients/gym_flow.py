"""The gym build through its generated client only: sign-up and sign-in, a gym, members,
module switches, an upload, an API key, a token refresh, and a typed problem.

    python gym_flow.py BASE_URL   (scripts/clients/run gym sets it up)
"""

import io
import sys

from flow import expect, png, require, step, unique_email
from gymapi_client import AuthenticatedClient, Client
from gymapi_client.api.api_keys import api_keys_create
from gymapi_client.api.auth import auth_login, auth_refresh, auth_register
from gymapi_client.api.dashboard import dashboard_get
from gymapi_client.api.gyms import gyms_create, gyms_get, gyms_list
from gymapi_client.api.media import media_get, media_upload
from gymapi_client.api.members import members_add, members_list
from gymapi_client.api.meta import meta_get
from gymapi_client.api.modules import modules_set
from gymapi_client.api.users import users_me_get
from gymapi_client.models import (
    AddMemberRequest,
    AuthSession,
    BuildInfo,
    CreateApiKeyRequest,
    CreateApiKeyRequestScopesItem,
    CreatedApiKey,
    CreateGymRequest,
    DashboardView,
    Gym,
    GymPage,
    LoginRequest,
    Me,
    MediaItem,
    MediaUploadBody,
    Member,
    MemberPage,
    Mode,
    Problem,
    RefreshRequest,
    RegisterRequest,
    Role,
    SetModuleRequest,
    TenantModule,
    TokenPair,
)
from gymapi_client.types import File


def main(base_url: str) -> None:
    anonymous = Client(base_url=base_url, raise_on_unexpected_status=True)
    password = "correct-horse-battery-staple"

    step("meta: the build")
    meta = expect(meta_get.sync_detailed(client=anonymous), 200, BuildInfo)
    require(meta.build == Mode.GYM, f"build {meta.build}")

    step("register the owner and a future trainer")
    owner_email = unique_email("owner")
    registered = expect(
        auth_register.sync_detailed(
            client=anonymous,
            body=RegisterRequest(email=owner_email, password=password, first_name="Olga", last_name="Owner"),
        ),
        201,
        AuthSession,
    )
    trainer_email = unique_email("trainer")
    expect(
        auth_register.sync_detailed(
            client=anonymous,
            body=RegisterRequest(email=trainer_email, password=password, first_name="Tom", last_name="Trainer"),
        ),
        201,
        AuthSession,
    )

    step("log in")
    session = expect(
        auth_login.sync_detailed(client=anonymous, body=LoginRequest(email=owner_email, password=password)),
        200,
        AuthSession,
    )
    require(session.user.id == registered.user.id, "log-in is the registered user")
    owner = AuthenticatedClient(base_url=base_url, token=session.tokens.access_token, raise_on_unexpected_status=True)

    step("create a gym, read it back, list it")
    gym = expect(
        gyms_create.sync_detailed(
            client=owner, body=CreateGymRequest(name="Client Flow Gym", timezone="Europe/Madrid")
        ),
        201,
        Gym,
    )
    require(gym.my_role == Role.OWNER and gym.timezone == "Europe/Madrid", f"gym {gym}")
    gym_id = str(gym.id)
    expect(gyms_get.sync_detailed(gym.id, client=owner), 200, Gym)
    gyms = expect(gyms_list.sync_detailed(client=owner), 200, GymPage)
    require([g.id for g in gyms.items] == [gym.id], f"gyms {gyms.items}")

    step("add a member, list members")
    member = expect(
        members_add.sync_detailed(
            client=owner, x_gym_id=gym_id, body=AddMemberRequest(email=trainer_email, role=Role.TRAINER)
        ),
        201,
        Member,
    )
    require(member.role == Role.TRAINER, f"member {member}")
    members = expect(members_list.sync_detailed(client=owner, x_gym_id=gym_id), 200, MemberPage)
    require(
        sorted(m.email for m in members.items) == sorted([owner_email, trainer_email]),
        f"members {members.items}",
    )

    step("switch the dashboard off and on (PUT /api/v1/modules/{code})")
    off = expect(
        modules_set.sync_detailed("dashboard", client=owner, x_gym_id=gym_id, body=SetModuleRequest(enabled=False)),
        200,
        TenantModule,
    )
    require(not off.enabled, "dashboard off")
    refused = expect(dashboard_get.sync_detailed(client=owner, x_gym_id=gym_id), 404, Problem)
    require(refused.code == "module_not_enabled", f"problem {refused.code}")
    on = expect(
        modules_set.sync_detailed("dashboard", client=owner, x_gym_id=gym_id, body=SetModuleRequest(enabled=True)),
        200,
        TenantModule,
    )
    require(on.enabled, "dashboard on")
    dashboard = expect(dashboard_get.sync_detailed(client=owner, x_gym_id=gym_id), 200, DashboardView)
    require(dashboard.tenant.id == gym.id, "dashboard of the gym")

    step("upload an image (multipart `file`), read it back")
    image = png()
    uploaded = expect(
        media_upload.sync_detailed(
            client=owner,
            x_gym_id=gym_id,
            body=MediaUploadBody(file=File(payload=io.BytesIO(image), file_name="pixel.png", mime_type="image/png")),
        ),
        201,
        MediaItem,
    )
    require(uploaded.bytes_ == len(image) and uploaded.content_type == "image/png", f"upload {uploaded}")
    expect(media_get.sync_detailed(uploaded.id, client=owner, x_gym_id=gym_id), 200, MediaItem)

    step("create an API key and list members with it")
    created = expect(
        api_keys_create.sync_detailed(
            client=owner,
            x_gym_id=gym_id,
            body=CreateApiKeyRequest(name="Front desk", scopes=[CreateApiKeyRequestScopesItem.MEMBERSREAD]),
        ),
        201,
        CreatedApiKey,
    )
    kiosk = AuthenticatedClient(base_url=base_url, token=created.key, raise_on_unexpected_status=True)
    through_key = expect(members_list.sync_detailed(client=kiosk, x_gym_id=gym_id), 200, MemberPage)
    require(len(through_key.items) == 2, f"members through the key {through_key.items}")

    step("refresh the token and use the new one")
    pair = expect(
        auth_refresh.sync_detailed(client=anonymous, body=RefreshRequest(refresh_token=session.tokens.refresh_token)),
        200,
        TokenPair,
    )
    require(pair.refresh_token != session.tokens.refresh_token, "a new refresh token")
    refreshed = AuthenticatedClient(base_url=base_url, token=pair.access_token, raise_on_unexpected_status=True)
    me = expect(users_me_get.sync_detailed(client=refreshed, x_gym_id=gym_id), 200, Me)
    require(me.user.id == registered.user.id and me.tenant.role == Role.OWNER, f"me {me}")

    step("a taken e-mail is a typed problem: 409 email_taken")
    problem = expect(
        auth_register.sync_detailed(
            client=anonymous,
            body=RegisterRequest(email=owner_email, password=password, first_name="Olga", last_name="Again"),
        ),
        409,
        Problem,
    )
    require(problem.code == "email_taken" and problem.status == 409, f"problem {problem}")
    require([e.field for e in problem.errors] == ["email"], f"problem fields {problem.errors}")
    print("gym flow: every step passed through the generated client")


if __name__ == "__main__":
    main(sys.argv[1])
