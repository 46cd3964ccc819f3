//! The REST API: JSON over HTTP/1.1 (tiny_http, a few worker threads), under `/v1`.
//!
//! Every route lives in one table ([`routes`]); the dispatcher matches requests against it and
//! the OpenAPI document ([`openapi`]) is generated from it, so the two cannot drift apart (a
//! test also walks the document against the running server). Handlers are short: reads take
//! the model's read lock just long enough to render JSON; writes go through
//! [`State::write`], which serializes them and makes them durable before they are visible.
//!
//! Responses carry the object plus `"revision"` (its last write) and `ETag: "<revision>"`;
//! writes honour `If-Match`. Errors are `{"error":{"status","field","message"}}` with the
//! status of the [`RuleError`] (400/404/409/412), plus 405 (wrong method, with `Allow`),
//! 413 (body over [`BODY_MAX`]) and 500 (the store failed; nothing changed).

use crate::state::{HostRuntime, State, WriteError};
use proto::{Key, Kind, Object, RuleError, Stored, Write};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::io::Read;
use std::sync::Arc;

/// Largest request body.
pub const BODY_MAX: usize = 4 << 20;

/// What a route serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// `/v1/{collection}`: list, create.
    Collection(Kind),
    /// `/v1/{collection}/{name}`: get, replace, delete.
    Item(Kind),
    /// `/v1/ports/{id}/status`.
    PortStatus,
    /// `/v1/revision`.
    Revision,
    /// `/v1/openapi.json`.
    OpenApi,
}

/// One route.
#[derive(Clone, Debug)]
pub struct Route {
    /// Path template; `{x}` matches one segment.
    pub template: String,
    /// Methods served.
    pub methods: &'static [&'static str],
    /// What it serves.
    pub target: Target,
}

fn param(kind: Kind) -> &'static str {
    if kind == Kind::Port {
        "id"
    } else {
        "name"
    }
}

/// Every route dvsm serves.
pub fn routes() -> Vec<Route> {
    let mut out = Vec::new();
    for kind in Kind::ALL {
        out.push(Route {
            template: format!("/v1/{}", kind.collection()),
            methods: &["GET", "POST"],
            target: Target::Collection(kind),
        });
        out.push(Route {
            template: format!("/v1/{}/{{{}}}", kind.collection(), param(kind)),
            methods: &["GET", "PUT", "DELETE"],
            target: Target::Item(kind),
        });
    }
    out.push(Route {
        template: "/v1/ports/{id}/status".into(),
        methods: &["GET"],
        target: Target::PortStatus,
    });
    out.push(Route {
        template: "/v1/revision".into(),
        methods: &["GET"],
        target: Target::Revision,
    });
    out.push(Route {
        template: "/v1/openapi.json".into(),
        methods: &["GET"],
        target: Target::OpenApi,
    });
    out
}

/// Match `path` against the table: the route and the values of its `{}` segments.
pub fn route(table: &[Route], path: &str) -> Option<(Route, Vec<String>)> {
    let segs: Vec<&str> = path.trim_end_matches('/').split('/').collect();
    'routes: for r in table {
        let t: Vec<&str> = r.template.split('/').collect();
        if t.len() != segs.len() {
            continue;
        }
        let mut vals = Vec::new();
        for (a, b) in t.iter().zip(&segs) {
            if a.starts_with('{') {
                if b.is_empty() {
                    continue 'routes;
                }
                vals.push(percent_decode(b));
            } else if a != b {
                continue 'routes;
            }
        }
        return Some((r.clone(), vals));
    }
    None
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            let hex = |c: u8| (c as char).to_digit(16);
            if let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// An HTTP reply before it is written.
#[derive(Debug)]
pub struct Reply {
    /// Status code.
    pub status: u16,
    /// JSON body.
    pub body: Value,
    /// `ETag` revision.
    pub etag: Option<u64>,
    /// `Allow` header (405).
    pub allow: Option<String>,
}

impl Reply {
    fn ok(status: u16, body: Value, etag: Option<u64>) -> Reply {
        Reply {
            status,
            body,
            etag,
            allow: None,
        }
    }

    fn error(status: u16, field: &str, message: impl Into<String>) -> Reply {
        Reply::ok(
            status,
            json!({"error": {"status": status, "field": field, "message": message.into()}}),
            None,
        )
    }

    fn rule(e: RuleError) -> Reply {
        Reply::error(e.status.code(), &e.field, e.message)
    }
}

impl From<WriteError> for Reply {
    fn from(e: WriteError) -> Reply {
        match e {
            WriteError::Rule(r) => Reply::rule(r),
            WriteError::Store(s) => {
                log!("store commit failed: {s}");
                Reply::error(500, "", format!("the store failed; nothing changed: {s}"))
            }
        }
    }
}

/// A request as the handlers see it (independent of the HTTP library, for tests).
pub struct Req<'a> {
    /// Method.
    pub method: &'a str,
    /// Path (no query).
    pub path: &'a str,
    /// `If-Match` header value.
    pub if_match: Option<&'a str>,
    /// Body bytes.
    pub body: &'a [u8],
}

/// Serve one request.
pub fn handle(state: &State, table: &[Route], req: &Req<'_>) -> Reply {
    let Some((r, vals)) = route(table, req.path) else {
        return Reply::error(404, "", format!("no route {}", req.path));
    };
    if !r.methods.contains(&req.method) {
        let mut rep = Reply::error(
            405,
            "",
            format!("{} does not serve {}", r.template, req.method),
        );
        rep.allow = Some(r.methods.join(", "));
        return rep;
    }
    let if_match = match parse_if_match(req.if_match) {
        Ok(m) => m,
        Err(r) => return r,
    };
    let name = vals.first().cloned().unwrap_or_default();
    match (r.target, req.method) {
        (Target::Collection(k), "GET") => list(state, k),
        (Target::Collection(k), "POST") => match body_json(req.body) {
            Ok(b) => put(state, k, None, b, true, if_match),
            Err(r) => r,
        },
        (Target::Item(k), "GET") => get(state, k, &name),
        (Target::Item(k), "PUT") => match body_json(req.body) {
            Ok(b) => put(state, k, Some(&name), b, false, if_match),
            Err(r) => r,
        },
        (Target::Item(k), "DELETE") => match state.write(
            Write::Delete {
                key: Key::new(k, &name),
                if_match,
            },
            None,
        ) {
            Ok(rev) => Reply::ok(
                200,
                json!({"deleted": Key::new(k, &name).to_string(), "revision": rev}),
                None,
            ),
            Err(e) => e.into(),
        },
        (Target::PortStatus, _) => port_status(state, &name),
        (Target::Revision, _) => Reply::ok(200, json!({"revision": state.revision()}), None),
        (Target::OpenApi, _) => Reply::ok(200, openapi(table), None),
        _ => Reply::error(405, "", "method not served"),
    }
}

fn parse_if_match(h: Option<&str>) -> Result<Option<u64>, Reply> {
    let Some(h) = h.map(str::trim) else {
        return Ok(None);
    };
    if h == "*" {
        return Ok(None);
    }
    h.trim_start_matches("W/")
        .trim_matches('"')
        .parse()
        .map(Some)
        .map_err(|_| {
            Reply::error(
                400,
                "If-Match",
                format!("{h:?} is not a revision like \"42\""),
            )
        })
}

fn body_json(body: &[u8]) -> Result<Map<String, Value>, Reply> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(Reply::error(400, "body", "the body must be a JSON object")),
        Err(e) => Err(Reply::error(400, "body", format!("malformed JSON: {e}"))),
    }
}

fn random_token() -> Result<String, std::io::Error> {
    let mut b = [0u8; 16];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut b)?;
    Ok(b.iter().map(|x| format!("{x:02x}")).collect())
}

fn put(
    state: &State,
    kind: Kind,
    name: Option<&str>,
    mut body: Map<String, Value>,
    create: bool,
    if_match: Option<u64>,
) -> Reply {
    let field = param(kind);
    if let Some(n) = name {
        match body.get(field) {
            None => {
                body.insert(field.into(), Value::String(n.into()));
            }
            Some(Value::String(b)) if b == n => {}
            Some(b) => {
                return Reply::error(
                    400,
                    field,
                    format!("the URL names {n:?} but the body {b}; renaming is not supported"),
                )
            }
        }
    }
    let mut token = None;
    if kind == Kind::Host {
        match body.remove("token") {
            None => {}
            Some(Value::String(t))
                if !t.is_empty() && t.len() <= 256 && t.bytes().all(|c| c.is_ascii_graphic()) =>
            {
                token = Some(t)
            }
            Some(_) => {
                return Reply::error(
                    400,
                    "token",
                    "a token is 1 to 256 printable ASCII characters",
                )
            }
        }
        if create && token.is_none() {
            match random_token() {
                Ok(t) => token = Some(t),
                Err(e) => return Reply::error(500, "token", format!("/dev/urandom: {e}")),
            }
        }
    }
    let object = match Object::from_json(kind, Value::Object(body)) {
        Ok(o) => o,
        Err(e) => return Reply::rule(e),
    };
    let key = object.key();
    match state.write(
        Write::Put {
            object,
            create,
            if_match,
        },
        token.clone(),
    ) {
        Ok(rev) => {
            let m = state.model();
            let hosts = state.hosts();
            let mut v = match m.get(&key) {
                Some(s) => render(&hosts, s),
                None => json!({}),
            };
            if let (Some(t), Value::Object(o)) = (token, &mut v) {
                o.insert("token".into(), Value::String(t));
            }
            Reply::ok(if create { 201 } else { 200 }, v, Some(rev))
        }
        Err(e) => e.into(),
    }
}

fn age_ms(r: &crate::state::Reported) -> u64 {
    u64::try_from(r.at.elapsed().as_millis()).unwrap_or(u64::MAX)
}

fn status_json(r: &crate::state::Reported) -> Value {
    let mut v = serde_json::to_value(&r.status).unwrap_or(Value::Null);
    if let Value::Object(o) = &mut v {
        o.insert("age_ms".into(), json!(age_ms(r)));
        o.insert("revision_applied".into(), json!(r.revision));
    }
    v
}

/// An object as the API shows it.
fn render(hosts: &BTreeMap<String, HostRuntime>, s: &Stored) -> Value {
    let mut v = s.object.to_json();
    let Value::Object(o) = &mut v else {
        return v;
    };
    o.insert("revision".into(), json!(s.revision));
    match &s.object {
        Object::Host(h) => {
            let rt = hosts.get(&h.name);
            o.insert(
                "connected".into(),
                json!(rt.is_some_and(|r| r.session.is_some())),
            );
            o.insert("last_seen".into(), json!(rt.and_then(|r| r.last_seen)));
            o.insert("facts".into(), json!(rt.and_then(|r| r.facts.as_ref())));
            o.insert("revision_acked".into(), json!(rt.and_then(|r| r.acked)));
            o.insert(
                "revision_sent".into(),
                json!(rt.and_then(|r| r.sent_revision)),
            );
            // Connected and has applied everything it was sent.
            o.insert(
                "in_sync".into(),
                json!(rt.is_some_and(|r| r.session.is_some()
                    && r.acked.is_some()
                    && r.acked >= r.sent_revision)),
            );
            o.insert(
                "apply_errors".into(),
                json!(rt.map(|r| r.apply_errors.as_slice()).unwrap_or(&[])),
            );
        }
        Object::Port(p) => {
            if let Some(r) = hosts.get(&p.host).and_then(|rt| rt.ports.get(&p.id)) {
                o.insert("status".into(), status_json(r));
            }
        }
        Object::Uplink(u) => {
            if let Some(r) = hosts.get(&u.host).and_then(|rt| rt.uplinks.get(&u.name)) {
                o.insert("status".into(), status_json(r));
            }
        }
        _ => {}
    }
    v
}

fn list(state: &State, kind: Kind) -> Reply {
    let m = state.model();
    let hosts = state.hosts();
    let items: Vec<Value> = m.list(kind).map(|s| render(&hosts, s)).collect();
    Reply::ok(
        200,
        json!({"items": items, "revision": m.revision}),
        Some(m.revision),
    )
}

fn get(state: &State, kind: Kind, name: &str) -> Reply {
    let m = state.model();
    let hosts = state.hosts();
    match m.get(&Key::new(kind, name)) {
        Some(s) => Reply::ok(200, render(&hosts, s), Some(s.revision)),
        None => Reply::error(404, "", format!("no {}", Key::new(kind, name))),
    }
}

fn port_status(state: &State, id: &str) -> Reply {
    let m = state.model();
    let Some(p) = m.port(id) else {
        return Reply::error(404, "", format!("no port/{id}"));
    };
    let hosts = state.hosts();
    match hosts.get(&p.host).and_then(|rt| rt.ports.get(id)) {
        Some(r) => {
            let mut v = status_json(r);
            if let Value::Object(o) = &mut v {
                o.insert("port".into(), json!(id));
                o.insert("host".into(), json!(p.host));
            }
            Reply::ok(200, v, None)
        }
        None => Reply::error(
            404,
            "",
            format!("no status reported for port {id} by host {}", p.host),
        ),
    }
}

/// The OpenAPI 3.0 document of `table`.
pub fn openapi(table: &[Route]) -> Value {
    let err = json!({"$ref": "#/components/responses/Error"});
    let mut paths = Map::new();
    for r in table {
        let mut ops = Map::new();
        let params: Vec<Value> = r
            .template
            .split('/')
            .filter(|s| s.starts_with('{'))
            .map(|s| {
                json!({"name": s.trim_matches(|c| c == '{' || c == '}'), "in": "path",
                       "required": true, "schema": {"type": "string"}})
            })
            .collect();
        for m in r.methods {
            let what = match r.target {
                Target::Collection(k) => format!("{} {}", m, k.collection()),
                Target::Item(k) => format!("{} one {}", m, k.as_str()),
                Target::PortStatus => "a port's last status report".into(),
                Target::Revision => "the current revision".into(),
                Target::OpenApi => "this document".into(),
            };
            let mut op = json!({
                "summary": what,
                "operationId": format!("{}{}", m.to_lowercase(),
                    r.template.replace(['/', '{', '}', '.'], "_")),
                "responses": {
                    "200": {"description": "OK", "content": {"application/json": {}}},
                    "400": err, "404": err, "405": err,
                },
            });
            if let Value::Object(o) = &mut op {
                if !params.is_empty() {
                    o.insert("parameters".into(), json!(params));
                }
                if matches!(*m, "POST" | "PUT") {
                    o.insert(
                        "requestBody".into(),
                        json!({"required": true, "content": {"application/json":
                            {"schema": {"type": "object"}}}}),
                    );
                }
                if let Some(Value::Object(resp)) = o.get_mut("responses") {
                    if matches!(*m, "POST" | "PUT" | "DELETE") {
                        resp.insert("409".into(), err.clone());
                        resp.insert("412".into(), err.clone());
                        resp.insert("413".into(), err.clone());
                    }
                    if *m == "POST" {
                        resp.insert(
                            "201".into(),
                            json!({"description": "Created", "content": {"application/json": {}}}),
                        );
                    }
                }
            }
            ops.insert(m.to_lowercase(), op);
        }
        paths.insert(r.template.clone(), Value::Object(ops));
    }
    json!({
        "openapi": "3.0.3",
        "info": {"title": "dvsm", "version": env!("CARGO_PKG_VERSION"),
                 "description": "The DVS manager's REST API."},
        "paths": paths,
        "components": {"responses": {"Error": {
            "description": "Refused",
            "content": {"application/json": {"schema": {
                "type": "object",
                "properties": {"error": {"type": "object", "properties": {
                    "status": {"type": "integer"},
                    "field": {"type": "string"},
                    "message": {"type": "string"}}}}}}}
        }}},
    })
}

/// Serve HTTP on `server` with `workers` threads; returns their handles.
pub fn serve(
    server: Arc<tiny_http::Server>,
    state: Arc<State>,
    workers: usize,
) -> Vec<std::thread::JoinHandle<()>> {
    let table = Arc::new(routes());
    (0..workers.max(1))
        .filter_map(|i| {
            let (server, state, table) = (server.clone(), state.clone(), table.clone());
            std::thread::Builder::new()
                .name(format!("dvsm-api-{i}"))
                .spawn(move || loop {
                    match server.recv() {
                        Ok(rq) => serve_one(&state, &table, rq),
                        Err(e) => {
                            log!("api: {e}");
                            std::thread::sleep(std::time::Duration::from_millis(20));
                        }
                    }
                })
                .ok()
        })
        .collect()
}

fn header(s: &str) -> Option<tiny_http::Header> {
    s.parse().ok()
}

fn serve_one(state: &State, table: &[Route], mut rq: tiny_http::Request) {
    let method = rq.method().to_string();
    let url = rq.url().to_string();
    let path = url.split('?').next().unwrap_or("").to_string();
    let if_match = rq
        .headers()
        .iter()
        .find(|h| h.field.equiv("If-Match"))
        .map(|h| h.value.as_str().to_string());
    let reply = if rq.body_length().is_some_and(|n| n > BODY_MAX) {
        Reply::error(413, "body", format!("the body is over {BODY_MAX} bytes"))
    } else {
        let mut body = Vec::new();
        match rq
            .as_reader()
            .take(BODY_MAX as u64 + 1)
            .read_to_end(&mut body)
        {
            Err(e) => Reply::error(400, "body", format!("reading the body: {e}")),
            Ok(_) if body.len() > BODY_MAX => {
                Reply::error(413, "body", format!("the body is over {BODY_MAX} bytes"))
            }
            Ok(_) => handle(
                state,
                table,
                &Req {
                    method: &method,
                    path: &path,
                    if_match: if_match.as_deref(),
                    body: &body,
                },
            ),
        }
    };
    let mut bytes = serde_json::to_vec_pretty(&reply.body).unwrap_or_default();
    bytes.push(b'\n');
    let mut resp = tiny_http::Response::from_data(bytes).with_status_code(reply.status);
    if let Some(h) = header("Content-Type: application/json") {
        resp.add_header(h);
    }
    if let Some(h) = reply.etag.and_then(|r| header(&format!("ETag: \"{r}\""))) {
        resp.add_header(h);
    }
    if let Some(h) = reply.allow.and_then(|a| header(&format!("Allow: {a}"))) {
        resp.add_header(h);
    }
    if let Err(e) = rq.respond(resp) {
        log!("api: responding to {method} {url}: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MemStore;

    fn call(st: &State, method: &str, path: &str, body: &str, if_match: Option<&str>) -> Reply {
        handle(
            st,
            &routes(),
            &Req {
                method,
                path,
                if_match,
                body: body.as_bytes(),
            },
        )
    }

    #[test]
    fn routing() {
        let t = routes();
        assert_eq!(
            route(&t, "/v1/ports/p1/status").unwrap().0.target,
            Target::PortStatus
        );
        assert_eq!(route(&t, "/v1/dvs/d%31").unwrap().1, vec!["d1".to_string()]);
        assert_eq!(
            route(&t, "/v1/hosts/").unwrap().0.target,
            Target::Collection(Kind::Host)
        );
        assert!(route(&t, "/v1/nope").is_none());
        assert!(route(&t, "/v1/hosts//x").is_none());
    }

    #[test]
    fn hosts_and_tokens() {
        let st = State::open(Box::new(MemStore::new())).unwrap();
        let r = call(&st, "POST", "/v1/hosts", r#"{"name":"h1"}"#, None);
        assert_eq!(r.status, 201, "{}", r.body);
        assert_eq!(r.body["token"].as_str().unwrap().len(), 32);
        let r = call(
            &st,
            "POST",
            "/v1/hosts",
            r#"{"name":"h2","token":"abc"}"#,
            None,
        );
        assert_eq!(r.body["token"], "abc");
        assert_eq!(st.hosts()["h2"].token.as_deref(), Some("abc"));
        let r = call(&st, "GET", "/v1/hosts/h2", "", None);
        assert_eq!(r.status, 200);
        assert!(r.body.get("token").is_none());
        assert_eq!(r.body["connected"], false);
        assert_eq!(r.etag, Some(2));
        let r = call(&st, "PUT", "/v1/hosts/h2", r#"{"name":"h3"}"#, None);
        assert_eq!(
            (r.status, r.body["error"]["field"].as_str()),
            (400, Some("name"))
        );
        let r = call(
            &st,
            "PUT",
            "/v1/hosts/h2",
            r#"{"description":"x"}"#,
            Some("\"1\""),
        );
        assert_eq!(r.status, 412);
        let r = call(
            &st,
            "PUT",
            "/v1/hosts/h2",
            r#"{"description":"x"}"#,
            Some("\"2\""),
        );
        assert_eq!(r.status, 200);
        assert_eq!(r.etag, Some(3));
        let r = call(&st, "PATCH", "/v1/hosts/h2", "", None);
        assert_eq!(r.status, 405);
        assert_eq!(r.allow.as_deref(), Some("GET, PUT, DELETE"));
        let r = call(&st, "DELETE", "/v1/hosts/h2", "", None);
        assert_eq!(r.status, 200);
        assert!(!st.hosts().contains_key("h2"));
    }
}
