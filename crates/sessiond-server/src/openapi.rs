//! The OpenAPI document and its endpoint, `GET /openapi.json`. The document is built from the
//! handlers' `#[utoipa::path]` annotations and the wire types of `sessiond-api`, so it cannot
//! drift from the code; a test holds its paths equal to the router's.

use axum::Json;
use utoipa::OpenApi;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};

use crate::handlers::{cdi, events, ops, v1};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "sessiond",
        description = "Session management service. The `cdi` endpoints are the SuperTokens Core Driver Interface 5.4 (session and JWT recipes): session outcomes are HTTP 200 with a `status` field. Every path also accepts an `/appid-<appId>` prefix; create, remove and the user listing also accept a `/<tenantId>` prefix. With API keys configured, every endpoint but /hello, /healthz and /.well-known/jwks.json needs `api-key: KEY` or `Authorization: Bearer KEY`."
    ),
    paths(
        cdi::api_version, cdi::hello, cdi::user_by_id, cdi::jwks, cdi::create_session,
        cdi::verify_session, cdi::refresh_session, cdi::session_info, cdi::remove_sessions,
        cdi::user_sessions, cdi::regenerate, cdi::update_session_data, cdi::update_jwt_data,
        cdi::create_jwt, cdi::jwt_jwks, v1::list_keys, v1::rotate_keys, v1::reset_keys, v1::user_sessions,
        v1::session_details, v1::set_private_data, events::revocations,
        v1::create_service_token, v1::verify_service_token, ops::healthz, ops::readyz,
        ops::metrics, serve
    ),
    modifiers(&Security, &Limits),
    tags(
        (name = "cdi", description = "SuperTokens Core Driver Interface 5.4"),
        (name = "sessiond", description = "sessiond's own endpoints"),
        (name = "ops", description = "health, readiness, metrics, this document")
    )
)]
struct ApiDoc;

struct Security;

impl utoipa::Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("api-key"))),
        );
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The server's input limits, written into the wire types' schemas (the types live in
/// `sessiond-api`; the limits are this server's).
struct Limits;

impl utoipa::Modify for Limits {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::{RefOr, Schema};
        let Some(components) = openapi.components.as_mut() else {
            return;
        };
        let mut field = |schema: &str, name: &str, f: &dyn Fn(&mut utoipa::openapi::Object)| {
            if let Some(RefOr::T(Schema::Object(o))) = components.schemas.get_mut(schema)
                && let Some(RefOr::T(Schema::Object(p))) = o.properties.get_mut(name)
            {
                f(p);
            }
        };
        let append = |p: &mut utoipa::openapi::Object, text: String| {
            p.description = Some(match p.description.take() {
                Some(d) => format!("{d} {text}"),
                None => text,
            });
        };
        for (name, max) in [("ip", cdi::MAX_IP_LEN), ("userAgent", cdi::MAX_USER_AGENT_LEN)] {
            field("CreateSessionRequest", name, &|p| {
                p.max_length = Some(max);
                append(p, format!("At most {max} bytes; longer is 400 `INVALID_INPUT`."));
            });
        }
        field("CreateJwtRequest", "validity", &|p| {
            p.minimum = Some(utoipa::Number::UInt(1));
            p.maximum = usize::try_from(cdi::MAX_JWT_VALIDITY_SECS).ok().map(utoipa::Number::UInt);
            append(
                p,
                format!(
                    "Seconds, 1 to {} (10 years); 0 or more than that is 400 `INVALID_INPUT`.",
                    cdi::MAX_JWT_VALIDITY_SECS
                ),
            );
        });
    }
}

/// The OpenAPI 3.1 document of every route [`crate::app::router`] serves.
pub fn document() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

/// `GET /openapi.json`: this API's OpenAPI 3.1 document.
#[utoipa::path(get, path = "/openapi.json", operation_id = "openapi", tag = "ops", responses((status = 200, description = "OpenAPI document", body = Object)))]
pub(crate) async fn serve() -> Json<utoipa::openapi::OpenApi> {
    Json(document())
}
