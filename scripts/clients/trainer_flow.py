"""The trainer build through its generated client only: sign up a trainer, read the workspace
and the dashboard.

    python trainer_flow.py BASE_URL   (scripts/clients/run trainer sets it up)
"""

import sys

from flow import expect, require, step, unique_email
from gymapi_client import AuthenticatedClient, Client
from gymapi_client.api.dashboard import dashboard_get
from gymapi_client.api.meta import meta_get
from gymapi_client.api.workspace import auth_register_trainer, workspace_get
from gymapi_client.models import (
    BuildInfo,
    DashboardView,
    Mode,
    Problem,
    RegisteredTrainer,
    RegisterTrainerRequest,
    Role,
    Workspace,
)


def main(base_url: str) -> None:
    anonymous = Client(base_url=base_url, raise_on_unexpected_status=True)

    step("meta: the build")
    meta = expect(meta_get.sync_detailed(client=anonymous), 200, BuildInfo)
    require(meta.build == Mode.TRAINER, f"build {meta.build}")

    step("register a trainer: account, workspace and tokens in one 201")
    email = unique_email("trainer")
    body = RegisterTrainerRequest(
        email=email,
        password="correct-horse-battery-staple",
        first_name="Tina",
        last_name="Trainer",
        workspace_name="Tina Trains",
        timezone="Europe/Madrid",
    )
    registered = expect(auth_register_trainer.sync_detailed(client=anonymous, body=body), 201, RegisteredTrainer)
    require(registered.email == email, f"registered {registered}")
    require(registered.workspace.my_role == Role.OWNER, f"workspace {registered.workspace}")
    trainer = AuthenticatedClient(
        base_url=base_url, token=registered.tokens.access_token, raise_on_unexpected_status=True
    )

    step("read the workspace")
    workspace = expect(workspace_get.sync_detailed(client=trainer), 200, Workspace)
    require(workspace.id == registered.workspace.id, "the trainer's own workspace")
    require(workspace.name == "Tina Trains" and workspace.member_count == 1, f"workspace {workspace}")
    require("dashboard" in workspace.enabled_modules, f"modules {workspace.enabled_modules}")

    step("read the dashboard")
    dashboard = expect(dashboard_get.sync_detailed(client=trainer), 200, DashboardView)
    require(dashboard.mode == Mode.TRAINER and dashboard.tenant.id == workspace.id, f"dashboard {dashboard}")

    step("the same e-mail again is a typed problem: 409 email_taken")
    problem = expect(auth_register_trainer.sync_detailed(client=anonymous, body=body), 409, Problem)
    require(problem.code == "email_taken", f"problem {problem}")
    print("trainer flow: every step passed through the generated client")


if __name__ == "__main__":
    main(sys.argv[1])
