//! The OpenAPI document (`GET /openapi.json`), built from the handlers' annotations and the
//! wire types of `sessiond-api`, so it cannot drift from the code.

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
        ops::metrics, ops::openapi
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
        field("CreateSessionRequest", "ip", &|p| {
            p.max_length = Some(cdi::MAX_IP_LEN);
            append(
                p,
                format!(
                    "At most {} bytes; longer is 400 `INVALID_INPUT`.",
                    cdi::MAX_IP_LEN
                ),
            );
        });
        field("CreateSessionRequest", "userAgent", &|p| {
            p.max_length = Some(cdi::MAX_USER_AGENT_LEN);
            append(
                p,
                format!(
                    "At most {} bytes; longer is 400 `INVALID_INPUT`.",
                    cdi::MAX_USER_AGENT_LEN
                ),
            );
        });
        field("CreateJwtRequest", "validity", &|p| {
            p.minimum = Some(utoipa::Number::UInt(1));
            p.maximum = usize::try_from(cdi::MAX_JWT_VALIDITY_SECS)
                .ok()
                .map(utoipa::Number::UInt);
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

/// The document.
pub fn document() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}
