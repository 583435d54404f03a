//! Maps `GET /clients/{id}[/datasets]` and `{"client_business_id", "refresh"?}` to `shared::datasets`.

use lambda_http::http::Method;
use lambda_http::{Body, Request, RequestExt, Response};
use serde_json::Value;
use shared::datasets;
use shared::lambda::event::Routes;
use shared::lambda::http::{json, query};
use shared::lambda::invoke;
use shared::lambda::shapes::LookupRequest;
use shared::model::ClientBusinessId;
use shared::tokens::Recovery;
use shared::{Error, Ports, Result};

pub struct App {
    pub ports: Ports,
}

/// This function cannot read the partner secret: a lost token is recovered by token-fetch.
const RECOVERY: Recovery = Recovery::NotHere;

/// The routes, parsed from the path.
enum Route {
    Datasets(ClientBusinessId),
    Client(ClientBusinessId),
}

#[async_trait::async_trait]
impl Routes for App {
    async fn direct(&self, payload: Value) -> Result<Value> {
        let request: LookupRequest = invoke::parse(payload)?;
        let id = ClientBusinessId::parse(&request.client_business_id)?;
        tracing::Span::current().record("client_business_id", id.as_str());
        let view = datasets::lookup(&self.ports, &id, request.refresh, RECOVERY).await?;
        Ok(serde_json::to_value(view).expect("views serialize"))
    }

    async fn route(&self, req: &Request) -> Result<Response<Body>> {
        let route = parse_route(req.raw_http_path())?;
        if req.method() != Method::GET {
            return Err(Error::MethodNotAllowed);
        }
        let query = query(req)?;
        match route {
            Route::Datasets(id) => {
                tracing::Span::current().record("client_business_id", id.as_str());
                let refresh = match query.single("refresh", 5)? {
                    None | Some("false") => false,
                    Some("true") => true,
                    Some(_) => {
                        return Err(Error::InvalidRequest(
                            "refresh must be true or false".into(),
                        ));
                    }
                };
                let view = datasets::lookup(&self.ports, &id, refresh, RECOVERY).await?;
                Ok(json(200, &view))
            }
            Route::Client(id) => {
                tracing::Span::current().record("client_business_id", id.as_str());
                Ok(json(200, &datasets::client_view(&self.ports, &id).await?))
            }
        }
    }
}

fn parse_route(path: &str) -> Result<Route> {
    let rest = path.strip_prefix("/clients/").ok_or(Error::RouteNotFound)?;
    let (id, tail) = rest.split_once('/').unwrap_or((rest, ""));
    let id = ClientBusinessId::parse(id)?;
    match tail {
        "" => Ok(Route::Client(id)),
        "datasets" => Ok(Route::Datasets(id)),
        _ => Err(Error::RouteNotFound),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_parse_ids_strictly() {
        assert!(matches!(
            parse_route("/clients/123/datasets"),
            Ok(Route::Datasets(_))
        ));
        assert!(matches!(parse_route("/clients/123"), Ok(Route::Client(_))));
        assert!(matches!(
            parse_route("/clients/12a/datasets"),
            Err(Error::InvalidRequest(_))
        ));
        assert!(matches!(
            parse_route("/clients/123/tokens"),
            Err(Error::RouteNotFound)
        ));
        assert!(matches!(parse_route("/other"), Err(Error::RouteNotFound)));
    }
}
