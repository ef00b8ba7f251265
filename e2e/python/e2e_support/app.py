"""The application under test: FastAPI + supertokens-python (Session recipe only) + sessiond.

``init_supertokens`` must be called once per process (the SDK's configuration is process-global),
which is why the suite runs one pytest process per SDK configuration ("profile").
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from supertokens_python import InputAppInfo, SupertokensConfig, init
from supertokens_python.framework.fastapi import get_middleware
from supertokens_python.recipe import session
from supertokens_python.recipe.session import SessionContainer
from supertokens_python.recipe.session.asyncio import create_new_session
from supertokens_python.recipe.session.claims import BooleanClaim
from supertokens_python.recipe.session.framework.fastapi import verify_session
from supertokens_python.recipe.session.interfaces import SessionClaimValidator
from supertokens_python.types import RecipeUserId

from .observe import CoreCallRecorder

API_DOMAIN = "http://localhost:3001"
WEBSITE_DOMAIN = "http://localhost:3000"
API_BASE_PATH = "/auth"
ISSUER = API_DOMAIN + API_BASE_PATH

# A custom session claim. Its fetch_value says False; tests set it to True via the SDK.
VERIFIED_CLAIM = BooleanClaim("e2e-verified", fetch_value=lambda *_args: False)


def _require_verified(
    global_validators: List[SessionClaimValidator], _session: Any, _user_context: Any
) -> List[SessionClaimValidator]:
    return [*global_validators, VERIFIED_CLAIM.validators.is_true(None)]


def init_supertokens(
    connection_uri: str,
    api_key: str,
    recorder: CoreCallRecorder,
    **session_options: Any,
) -> None:
    """``session_options`` go to ``session.init`` (e.g. ``anti_csrf="VIA_TOKEN"``)."""
    init(
        app_info=InputAppInfo(
            app_name="sessiond-e2e",
            api_domain=API_DOMAIN,
            website_domain=WEBSITE_DOMAIN,
            api_base_path=API_BASE_PATH,
            website_base_path="/auth",
        ),
        supertokens_config=SupertokensConfig(
            connection_uri=connection_uri,
            api_key=api_key,
            network_interceptor=recorder,
        ),
        framework="fastapi",
        mode="asgi",
        recipe_list=[session.init(**session_options)],
        telemetry=False,
        debug=True,
    )


def _session_view(s: SessionContainer) -> Dict[str, Any]:
    return {
        "userId": s.get_user_id(),
        "recipeUserId": s.get_recipe_user_id().get_as_string(),
        "handle": s.get_handle(),
        "tenantId": s.get_tenant_id(),
        "payload": s.get_access_token_payload(),
    }


def build_app() -> FastAPI:
    app = FastAPI()
    app.add_middleware(get_middleware())

    @app.post("/login")
    async def login(request: Request) -> Dict[str, Any]:
        body = await request.json()
        s = await create_new_session(
            request,
            body.get("tenantId", "public"),
            RecipeUserId(body["userId"]),
            access_token_payload=body.get("payload"),
            session_data_in_database=body.get("data"),
        )
        return _session_view(s)

    @app.get("/me")
    async def me(s: SessionContainer = Depends(verify_session())) -> Dict[str, Any]:
        return _session_view(s)

    @app.post("/me")
    async def me_post(s: SessionContainer = Depends(verify_session())) -> Dict[str, Any]:
        # POST: the SDK performs its anti-CSRF check here (when anti_csrf is VIA_TOKEN).
        return _session_view(s)

    @app.get("/me-db")
    async def me_db(
        s: SessionContainer = Depends(verify_session(check_database=True)),
    ) -> Dict[str, Any]:
        return _session_view(s)

    @app.get("/optional")
    async def optional(
        s: Optional[SessionContainer] = Depends(verify_session(session_required=False)),
    ) -> Dict[str, Any]:
        return {"session": _session_view(s) if s is not None else None}

    @app.get("/needs-claim")
    async def needs_claim(
        s: SessionContainer = Depends(
            verify_session(override_global_claim_validators=_require_verified)
        ),
    ) -> Dict[str, Any]:
        return _session_view(s)

    @app.post("/merge")
    async def merge(
        request: Request, s: SessionContainer = Depends(verify_session())
    ) -> Dict[str, Any]:
        await s.merge_into_access_token_payload(await request.json())
        return _session_view(s)

    @app.get("/data")
    async def get_data(s: SessionContainer = Depends(verify_session())) -> Dict[str, Any]:
        return {
            "data": await s.get_session_data_from_database(),
            "timeCreated": await s.get_time_created(),
            "expiry": await s.get_expiry(),
        }

    @app.put("/data")
    async def put_data(
        request: Request, s: SessionContainer = Depends(verify_session())
    ) -> Dict[str, Any]:
        await s.update_session_data_in_database(await request.json())
        return {"data": await s.get_session_data_from_database()}

    @app.post("/logout")
    async def logout(s: SessionContainer = Depends(verify_session())) -> JSONResponse:
        await s.revoke_session()
        return JSONResponse({"status": "OK"})

    return app
