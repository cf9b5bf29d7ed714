//! One probe of the primary's endpoint: an HTTP(S) `GET` with a timeout; up when it answers 2xx
//! or 3xx (as a Route 53 HTTP health check counts a status below 400 as healthy: "How Amazon
//! Route 53 determines whether a health check is healthy",
//! <https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/dns-failover-determining-health-of-endpoints.html>).
//! Redirects are not followed: a 3xx is an answer.
//!
//! The client is hyper's, over the same hyper-rustls the AWS SDK's HTTPS client uses (with the
//! same features, so nothing compiles twice), with the system's root certificates.

use std::time::Duration;

use http_body_util::Empty;
use hyper::body::Bytes;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

/// What one probe found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probe {
    pub up: bool,
    /// `HTTP 200`, `timed out after 5 s`, or the connection's error.
    pub detail: String,
}

/// The HTTP client a witness probes with.
pub type ProbeClient = Client<hyper_rustls::HttpsConnector<HttpConnector>, Empty<Bytes>>;

/// A client for `http://` and `https://` URLs, TLS verified against the system's roots.
///
/// # Errors
/// The system's root certificates could not be loaded.
pub fn client() -> std::io::Result<ProbeClient> {
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_provider_and_native_roots(rustls::crypto::aws_lc_rs::default_provider())?
        .https_or_http()
        .enable_http1()
        .build();
    Ok(Client::builder(TokioExecutor::new()).build(https))
}

/// `GET url`, at most `timeout` for the answer's status line. Never fails: an error is a probe
/// that found the primary down, with the error as its detail.
pub async fn probe(client: &ProbeClient, url: &hyper::Uri, timeout: Duration) -> Probe {
    let request = hyper::Request::get(url.clone())
        .header("user-agent", "dr-failover-witness")
        .body(Empty::new());
    let request = match request {
        Ok(request) => request,
        Err(error) => {
            return Probe {
                up: false,
                detail: format!("the request could not be made: {error}"),
            }
        }
    };
    match tokio::time::timeout(timeout, client.request(request)).await {
        Err(_) => Probe {
            up: false,
            detail: format!("timed out after {} s", timeout.as_secs_f64()),
        },
        Ok(Err(error)) => Probe {
            up: false,
            detail: format!("no answer: {}", error_chain(&error)),
        },
        Ok(Ok(response)) => {
            let status = response.status();
            Probe {
                up: status.is_success() || status.is_redirection(),
                detail: format!("HTTP {}", status.as_u16()),
            }
        }
    }
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
