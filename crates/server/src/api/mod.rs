//! The REST API. Every route but `/health` and `/openapi.json` needs a token.

mod access;
mod audit;
mod boundaries;
mod bundles;
mod connector;
mod declared;
mod flows;
mod inventory;
mod mfa;
mod reports;
mod requests;
mod scopes;
mod signin;
pub mod views;

use crate::state::AppState;
use axum::routing::{get, post};
use axum::{Json, Router};
use utoipa::OpenApi;

#[derive(OpenApi)]
#[openapi(
    info(title = "Sesame", description = "Just-in-time access for AWS and databases"),
    paths(
        requests::create, requests::dry_run, requests::list, requests::show, requests::approve, requests::reject, requests::revoke, requests::extend,
        mfa::enroll, mfa::verify, mfa::reset,
        flows::list, flows::show, flows::create, flows::update, flows::delete,
        bundles::list, bundles::show, bundles::create, bundles::update, bundles::delete, bundles::request, bundles::dry_run, bundles::show_request, bundles::scope_request, bundles::scope_dry_run,
        access::list, access::use_credentials, access::reset_credentials,
        inventory::integrations, inventory::resources, inventory::permissions, inventory::sync,
        boundaries::list, boundaries::put, boundaries::lift,
        scopes::list, scopes::show, scopes::create, scopes::update, scopes::delete, scopes::units, scopes::preview,
        audit::list, audit::export, reports::access, whoami,
        declared::apply, declared::export, declared::integration_types,
        signin::login, signin::callback, signin::device_start, signin::device_poll, signin::logout,
    ),
    components(schemas(
        sesame_proto::CreateRequest, sesame_proto::DryRunView, sesame_proto::Reason, sesame_proto::RequestView, sesame_proto::ApprovalPartView, sesame_proto::ErrorBody,
        sesame_proto::ErrorCode, sesame_proto::IntegrationView, sesame_proto::ResourcesView, sesame_proto::PermissionsView,
        sesame_proto::ResourceInfo, sesame_proto::PermissionInfo, sesame_proto::AuditView, sesame_proto::CredentialsView,
        sesame_proto::Credentials, sesame_proto::WhoAmI, sesame_proto::Restriction, sesame_proto::RestrictRequest, sesame_proto::LiftRequest,
        sesame_proto::AccessScopeView, sesame_proto::NewAccessScope, sesame_proto::AccessScopeQuery, sesame_proto::ScopeUnit, sesame_proto::ScopeUnitsView,
        sesame_proto::ExtendRequest, sesame_proto::MfaEnrolment, sesame_proto::MfaCode, sesame_proto::MfaStepUp, sesame_proto::MfaReset,
        sesame_proto::AccessFlowView, sesame_proto::ExtensionAskedView, sesame_proto::BundleRequestBody, sesame_proto::BundleTargetView, sesame_proto::BundleView, sesame_proto::BundleGrantView, sesame_proto::BundleDryRunView, sesame_proto::BundleRequestView,
        sesame_proto::audit::AuditRecord, sesame_proto::audit::AuditFields, sesame_proto::AccessReportRow,
        sesame_proto::ApplyBody, sesame_proto::ApplyPlan, sesame_proto::PlannedChange, sesame_proto::FieldChange, sesame_proto::Declarations, sesame_proto::IntegrationTypeView,
        sesame_proto::DeviceStartView, sesame_proto::DevicePollBody, sesame_proto::DevicePollView,
    )),
    modifiers(&BearerAuth, &ErrorResponses)
)]
pub struct ApiDoc;

/// Every operation can answer with an error: `{"code","message"}` with a
/// stable code. The statuses it may come with are documented on every
/// operation, in one place.
struct ErrorResponses;

impl utoipa::Modify for ErrorResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
        let statuses: [(&str, &str); 11] = [
            ("400", "Malformed request (body, query or path): `bad_request`"),
            ("401", "No, unknown, expired or revoked token: `unauthorized`; a sign-in the identity provider's answer failed: `sign_in_refused`"),
            ("403", "Not allowed for this caller: `forbidden`, `self_approval`, `not_an_approver`, `mfa_required`, `invalid_mfa_code`"),
            ("404", "No such request, integration or endpoint (or not visible to the caller): `not_found`; no identity provider configured: `sign_in_not_configured`"),
            ("409", "Not possible in the current state: `invalid_state`, `credentials_already_shown`, `already_exists`, `mfa_not_enrolled`"),
            ("413", "Body larger than the endpoint takes: `payload_too_large`"),
            ("422", "Refused as asked: `unknown_integration`, `unknown_resource`, `duration_too_long`, `no_matching_flow`, `cannot_grant`, `invalid_query`, `outside_timeframe`, `reason_required`, `extension_not_allowed`, ..."),
            ("429", "Too many failed sign-ins from this address or token (`too_many_requests`), or wrong MFA codes (`mfa_locked`)"),
            ("500", "The store failed: `internal`"),
            ("502", "The integration failed: `integration_error`"),
            ("503", "At the concurrency limit or too slow: `overloaded`; the identity provider cannot be reached: `sign_in_unavailable`"),
        ];
        for item in openapi.paths.paths.values_mut() {
            for op in [&mut item.get, &mut item.post, &mut item.put, &mut item.delete, &mut item.patch].into_iter().flatten() {
                for (code, what) in statuses {
                    op.responses.responses.entry(code.to_owned()).or_insert_with(|| {
                        let content = ContentBuilder::new().schema(Some(Ref::from_schema_name("ErrorBody"))).build();
                        ResponseBuilder::new().description(what).content("application/json", content).build().into()
                    });
                }
            }
        }
    }
}

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme("bearer", SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()));
        openapi.security = Some(vec![utoipa::openapi::security::SecurityRequirement::new("bearer", Vec::<String>::new())]);
    }
}

pub fn router(state: AppState) -> Router {
    use crate::limits;
    use axum::extract::DefaultBodyLimit;
    // Connectors report whole discoveries: they get a larger body limit.
    let connector = Router::new()
        .route("/api/v1/connector/register", post(connector::register))
        .route("/api/v1/connector/poll", post(connector::poll))
        .route("/api/v1/connector/result", post(connector::result))
        .layer(DefaultBodyLimit::max(limits::CONNECTOR_BODY_LIMIT));
    Router::new()
        .route("/health", get(|| async { "ok" }))
        .route("/openapi.json", get(|| async { Json(ApiDoc::openapi()) }))
        .route("/metrics", get(crate::metrics::handler))
        .route("/api/v1/whoami", get(whoami))
        .route("/auth/login", get(signin::login))
        .route("/auth/callback", get(signin::callback))
        .route("/api/v1/auth/device", post(signin::device_start))
        .route("/api/v1/auth/device/token", post(signin::device_poll))
        .route("/api/v1/auth/logout", post(signin::logout))
        .route("/api/v1/requests", post(requests::create).get(requests::list))
        .route("/api/v1/requests/dry-run", post(requests::dry_run))
        .route("/api/v1/requests/{id}", get(requests::show))
        .route("/api/v1/requests/{id}/approve", post(requests::approve))
        .route("/api/v1/requests/{id}/reject", post(requests::reject))
        .route("/api/v1/requests/{id}/revoke", post(requests::revoke))
        .route("/api/v1/requests/{id}/extend", post(requests::extend))
        .route("/api/v1/access-flows", get(flows::list).post(flows::create))
        .route("/api/v1/access-flows/{name}", get(flows::show).put(flows::update).delete(flows::delete))
        .route("/api/v1/bundles", get(bundles::list).post(bundles::create))
        .route("/api/v1/bundles/{name}", get(bundles::show).put(bundles::update).delete(bundles::delete))
        .route("/api/v1/bundles/{name}/requests", post(bundles::request))
        .route("/api/v1/bundles/{name}/requests/dry-run", post(bundles::dry_run))
        .route("/api/v1/bundle-requests/{id}", get(bundles::show_request))
        .route("/api/v1/mfa/enroll", post(mfa::enroll))
        .route("/api/v1/mfa/verify", post(mfa::verify))
        .route("/api/v1/mfa/users/{email}", axum::routing::delete(mfa::reset))
        .route("/api/v1/access", get(access::list))
        .route("/api/v1/access/{id}/credentials", post(access::use_credentials))
        .route("/api/v1/access/{id}/reset-credentials", post(access::reset_credentials))
        .route("/api/v1/integrations", get(inventory::integrations))
        .route("/api/v1/integrations/{name}/resources", get(inventory::resources))
        .route("/api/v1/integrations/{name}/permissions", get(inventory::permissions))
        .route("/api/v1/integrations/{name}/sync", post(inventory::sync))
        .route("/api/v1/integrations/{name}/boundaries", get(boundaries::list).post(boundaries::put))
        .route("/api/v1/integrations/{name}/boundaries/lift", post(boundaries::lift))
        .route("/api/v1/access-scopes", get(scopes::list).post(scopes::create))
        .route("/api/v1/access-scopes/preview", post(scopes::preview))
        .route("/api/v1/access-scopes/{name}", get(scopes::show).put(scopes::update).delete(scopes::delete))
        .route("/api/v1/access-scopes/{name}/units", get(scopes::units))
        .route("/api/v1/access-scopes/{name}/requests", post(bundles::scope_request))
        .route("/api/v1/access-scopes/{name}/requests/dry-run", post(bundles::scope_dry_run))
        .route("/api/v1/audit", get(audit::list))
        .route("/api/v1/audit/export", get(audit::export))
        .route("/api/v1/reports/access", get(reports::access))
        .route("/api/v1/connectors", get(connector::list))
        .route("/api/v1/apply", post(declared::apply))
        .route("/api/v1/declarations", get(declared::export))
        .route("/api/v1/integration-types", get(declared::integration_types))
        .layer(DefaultBodyLimit::max(limits::USER_BODY_LIMIT))
        .merge(connector)
        .nest("/scim/v2", crate::scim::router())
        .fallback(|| async {
            crate::error::ApiError::new(sesame_proto::ErrorCode::NotFound, "no such endpoint: see /openapi.json")
        })
        .layer(axum::middleware::map_response(crate::error::jsonify))
        .with_state(state)
}

/// Who the token belongs to.
#[utoipa::path(get, path = "/api/v1/whoami", responses((status = 200, body = sesame_proto::WhoAmI)))]
async fn whoami(crate::auth::Caller(u): crate::auth::Caller) -> Json<sesame_proto::WhoAmI> {
    Json(sesame_proto::WhoAmI { email: u.email, admin: u.admin, auditor: u.auditor, name: u.name, groups: u.groups.into_iter().collect() })
}
