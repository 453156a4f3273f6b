//! The `/metrics` endpoint: hyper's HTTP/1 server on the session's tokio runtime (the same
//! thread as the event loop, so a scrape never sees a half-made update), and the choice of
//! exposition format from the request's `Accept`.
use std::{
    convert::Infallible,
    net::SocketAddr,
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc,
    },
    time::Duration,
};

use anyhow::Context as _;
use bytes::Bytes;
use http_body_util::Full;
use hyper::{
    body::Incoming,
    header::{self, HeaderValue},
    server::conn::http1,
    service::service_fn,
    Method, Request, Response, StatusCode,
};
use hyper_util::rt::{TokioIo, TokioTimer};
use prometheus_client::encoding::{prometheus_text, text};
use tokio::net::TcpListener;

use crate::diag;

use super::definitions::Metrics;

/// The `Content-Type` of the OpenMetrics text format that `prometheus_client::encoding::text`
/// writes.
pub const OPENMETRICS_CONTENT_TYPE: &str =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";
/// Connections served at once; more are closed at once (a scraper needs one).
const MAX_CONNECTIONS: usize = 32;
/// A client that has not sent its request headers by then is dropped.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Listens on `addr`; the error names the address.
pub fn bind(addr: SocketAddr) -> anyhow::Result<TcpListener> {
    let listener = std::net::TcpListener::bind(addr)
        .and_then(|l| l.set_nonblocking(true).map(|()| l))
        .with_context(|| format!("metrics: cannot listen on {addr}"))?;
    TcpListener::from_std(listener).with_context(|| format!("metrics: cannot listen on {addr}"))
}

/// Serves `/metrics` on `listener` until the runtime stops.
pub fn spawn(listener: TcpListener, metrics: Arc<Metrics>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(accept_loop(listener, metrics))
}

async fn accept_loop(listener: TcpListener, metrics: Arc<Metrics>) {
    let open = Arc::new(AtomicUsize::new(0));
    let mut warned = false;
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _peer)) => stream,
            Err(err) => {
                // EMFILE and the like: say so once, pause, go on.
                if !warned {
                    diag::warn!("metrics: accepting a connection: {err}");
                    warned = true;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        if open.fetch_add(1, Ordering::Relaxed) >= MAX_CONNECTIONS {
            open.fetch_sub(1, Ordering::Relaxed);
            drop(stream);
            continue;
        }
        let metrics = Arc::clone(&metrics);
        let open = Arc::clone(&open);
        tokio::spawn(async move {
            let service = service_fn(move |req: Request<Incoming>| {
                let response = respond(
                    req.method(),
                    req.uri().path(),
                    req.headers()
                        .get(header::ACCEPT)
                        .and_then(|v| v.to_str().ok()),
                    &metrics,
                );
                async move { Ok::<_, Infallible>(response) }
            });
            // A client that goes away mid-request is no concern of ours.
            let _ = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_READ_TIMEOUT)
                .serve_connection(TokioIo::new(stream), service)
                .await;
            open.fetch_sub(1, Ordering::Relaxed);
        });
    }
}

/// The response to one request: the metrics for `GET`/`HEAD /metrics`, in OpenMetrics when
/// `accept` asks for it and in the Prometheus text format 0.0.4 otherwise; 404 for any other
/// path, 405 for any other method.
pub fn respond(
    method: &Method,
    path: &str,
    accept: Option<&str>,
    metrics: &Metrics,
) -> Response<Full<Bytes>> {
    if path != "/metrics" {
        return plain(
            StatusCode::NOT_FOUND,
            "not found: the metrics are at /metrics\n",
        );
    }
    if method != Method::GET && method != Method::HEAD {
        let mut response = plain(StatusCode::METHOD_NOT_ALLOWED, "use GET\n");
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return response;
    }
    let openmetrics = wants_openmetrics(accept);
    let mut body = String::with_capacity(8 << 10);
    let (encoded, content_type) = if openmetrics {
        (
            text::encode(&mut body, &metrics.registry),
            OPENMETRICS_CONTENT_TYPE,
        )
    } else {
        (
            prometheus_text::encode(&mut body, &metrics.registry),
            prometheus_text::CONTENT_TYPE,
        )
    };
    if encoded.is_err() {
        // Writing to a String does not fail; a metric's encoder could, in theory.
        return plain(
            StatusCode::INTERNAL_SERVER_ERROR,
            "encoding the metrics failed\n",
        );
    }
    let mut response = Response::new(Full::new(Bytes::from(body)));
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

fn plain(status: StatusCode, text: &'static str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from_static(text.as_bytes())));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

/// Whether an `Accept` value prefers OpenMetrics: it lists `application/openmetrics-text`
/// with a quality above 0 and at least that of the text format (`text/plain`, `text/*` or
/// `*/*`). Prometheus asks `application/openmetrics-text;version=1.0.0,…;q=0.75,
/// text/plain;version=0.0.4;q=0.5,*/*;q=0.1`; curl sends `*/*` and gets the text format.
pub fn wants_openmetrics(accept: Option<&str>) -> bool {
    let Some(accept) = accept else {
        return false;
    };
    let mut openmetrics = 0.0f32;
    let mut plain_text = 0.0f32;
    for range in accept.split(',') {
        let mut parts = range.split(';').map(str::trim);
        let media = parts.next().unwrap_or_default().to_ascii_lowercase();
        let q = parts
            .filter_map(|p| p.split_once('='))
            .find(|(k, _)| k.trim().eq_ignore_ascii_case("q"))
            .map_or(Some(1.0), |(_, v)| v.trim().parse::<f32>().ok())
            .unwrap_or(0.0)
            .clamp(0.0, 1.0);
        match media.as_str() {
            "application/openmetrics-text" => openmetrics = openmetrics.max(q),
            "text/plain" | "text/*" | "*/*" => plain_text = plain_text.max(q),
            _ => {}
        }
    }
    openmetrics > 0.0 && openmetrics >= plain_text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_negotiation() {
        // Prometheus 2.42's scrape.
        assert!(wants_openmetrics(Some(
            "application/openmetrics-text;version=1.0.0,application/openmetrics-text;\
             version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
        )));
        assert!(wants_openmetrics(Some("application/openmetrics-text")));
        assert!(wants_openmetrics(Some(
            "Application/OpenMetrics-Text; version=1.0.0; charset=utf-8"
        )));
        // curl, a browser, nothing, the text format by name.
        assert!(!wants_openmetrics(Some("*/*")));
        assert!(!wants_openmetrics(None));
        assert!(!wants_openmetrics(Some(
            "text/html,application/xhtml+xml,*/*;q=0.8"
        )));
        assert!(!wants_openmetrics(Some("text/plain;version=0.0.4")));
        // Qualities decide; q=0 refuses.
        assert!(!wants_openmetrics(Some(
            "application/openmetrics-text;q=0.3,text/plain;q=0.9"
        )));
        assert!(wants_openmetrics(Some(
            "text/plain;q=0.2,application/openmetrics-text;q=0.9"
        )));
        assert!(!wants_openmetrics(Some("application/openmetrics-text;q=0")));
        assert!(!wants_openmetrics(Some(
            "application/openmetrics-text;q=zero"
        )));
    }

    /// `Full`'s body is ready at once.
    fn body(response: Response<Full<Bytes>>) -> String {
        use http_body_util::BodyExt as _;
        let collected = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime")
            .block_on(response.into_body().collect())
            .unwrap_or_else(|never: Infallible| match never {});
        String::from_utf8(collected.to_bytes().to_vec()).expect("utf-8")
    }

    #[test]
    fn the_format_follows_accept_and_other_paths_are_404() {
        let metrics = Metrics::new(&[]);
        let text = respond(&Method::GET, "/metrics", Some("*/*"), &metrics);
        assert_eq!(text.status(), StatusCode::OK);
        assert_eq!(
            text.headers()[header::CONTENT_TYPE],
            "text/plain; version=0.0.4; charset=utf-8"
        );
        let text = body(text);
        assert!(
            text.contains("# TYPE proctrace_forks_total counter\n"),
            "{text}"
        );
        assert!(!text.contains("# EOF"), "{text}");

        let om = respond(
            &Method::GET,
            "/metrics",
            Some("application/openmetrics-text;version=1.0.0"),
            &metrics,
        );
        assert_eq!(om.headers()[header::CONTENT_TYPE], OPENMETRICS_CONTENT_TYPE);
        let om = body(om);
        assert!(om.contains("# TYPE proctrace_forks counter\n"), "{om}");
        assert!(om.ends_with("# EOF\n"), "{om}");

        let missing = respond(&Method::GET, "/", None, &metrics);
        assert_eq!(missing.status(), StatusCode::NOT_FOUND);
        assert_eq!(
            respond(&Method::GET, "/metrics/x", None, &metrics).status(),
            StatusCode::NOT_FOUND
        );
        let post = respond(&Method::POST, "/metrics", None, &metrics);
        assert_eq!(post.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(
            respond(&Method::HEAD, "/metrics", None, &metrics).status(),
            StatusCode::OK
        );
    }
}
