//! Test helpers shared by Sesame's test binaries, as a dev-only crate (no
//! `#[path]` includes across crates, no dev-dependency cycles). Of Sesame's
//! crates it depends only on the wire types (`sesame-proto`), which depend
//! on nothing of Sesame's.

pub mod eks_api;
pub mod kube;
pub mod moto;
pub mod oidc;
pub mod params;
pub mod targets;

/// Answer every request on a free loopback port with `handle` (the API
/// stand-ins); the base URL.
pub async fn serve<H>(handle: H) -> String
where
    H: Fn(axum::http::Method, axum::http::Uri, axum::http::HeaderMap, axum::body::Bytes) -> axum::response::Response + Clone + Send + Sync + 'static,
{
    #![allow(clippy::expect_used)]
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("cannot bind a loopback port");
    let url = format!("http://{}", listener.local_addr().expect("a local address"));
    let app = axum::Router::new().fallback(move |method, uri, headers, body| {
        let handle = handle.clone();
        async move { handle(method, uri, headers, body) }
    });
    tokio::spawn(async move { axum::serve(listener, app).await.expect("the stand-in serves") });
    url
}
