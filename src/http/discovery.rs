//! Discovery endpoints: `/ServiceProviderConfig`, `/ResourceTypes[/{id}]`, `/Schemas[/{id}]`.
//! GET only (405 otherwise); a token is required like everywhere under `/scim/v2`.

use actix_web::{web, HttpResponse};
use serde_json::Value;

use crate::scim::discovery;
use crate::scim::schema::ResourceKind;

use super::context::{Authenticated, RequestContext};
use super::error::ApiError;
use super::{method_not_allowed, AppState};

/// Mount the discovery routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    for (path, handler) in [
        ("/ServiceProviderConfig", Handler::Spc),
        ("/ResourceTypes", Handler::ResourceTypes),
        ("/ResourceTypes/{id}", Handler::ResourceType),
        ("/Schemas", Handler::Schemas),
        ("/Schemas/{id}", Handler::Schema),
    ] {
        cfg.service(
            web::resource(path)
                .app_data(web::Data::new(handler))
                .route(web::get().to(get))
                .default_service(web::to(method_not_allowed)),
        );
    }
}

#[derive(Clone, Copy)]
enum Handler {
    Spc,
    ResourceTypes,
    ResourceType,
    Schemas,
    Schema,
}

fn ok(body: Value) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(crate::scim::CONTENT_TYPE)
        .body(body.to_string())
}

async fn get(
    _caller: Authenticated,
    ctx: RequestContext,
    which: web::Data<Handler>,
    state: web::Data<AppState>,
    path: Option<web::Path<String>>,
) -> Result<HttpResponse, ApiError> {
    let reg = &state.registry;
    let base = &ctx.base_url;
    let id = path.map(web::Path::into_inner).unwrap_or_default();
    let missing = || ApiError::NoRoute(id.clone());
    Ok(ok(match **which {
        Handler::Spc => discovery::service_provider_config(base, state.max_body_bytes),
        Handler::ResourceTypes => discovery::resource_types(reg, base),
        Handler::ResourceType => {
            let kind = [ResourceKind::User, ResourceKind::Group]
                .into_iter()
                .find(|k| k.as_str().eq_ignore_ascii_case(&id))
                .ok_or_else(missing)?;
            reg.resource_type(kind).to_json(base)
        }
        Handler::Schemas => discovery::schemas(reg, base),
        Handler::Schema => reg.schema(&id).ok_or_else(missing)?.to_json(base),
    }))
}
