//! A web page cannot drive the agent: requests a browser marks as cross-site, bodies that are not JSON, and (in
//! local mode, on the developer's loopback) a `Host` that is not this machine are refused before any route runs.

use crate::support::*;

fn code(r: &http::Reply) -> (u16, String) {
    (r.status, r.json()["code"].as_str().unwrap_or_default().to_string())
}

#[tokio::test]
async fn a_cross_site_simple_post_runs_nothing() {
    let agent = Agent::start_with(&["--multi-sandbox", "{dir}"]);
    let mut c = agent.client().await.for_sandbox("victim");
    let body = br#"{"command":"touch /tmp/pwned-by-a-page"}"#.to_vec();
    let r = c
        .send_with(
            "POST",
            "/v1/exec",
            &[("origin", "https://evil.example"), ("content-type", "text/plain")],
            body.clone(),
        )
        .await;
    assert_eq!(code(&r), (403, "CROSS_SITE_REFUSED".into()));
    let r = c.send_with("POST", "/v1/exec", &[("sec-fetch-site", "cross-site")], body.clone()).await;
    assert_eq!(code(&r), (403, "CROSS_SITE_REFUSED".into()));
    for content_type in
        ["text/plain;charset=UTF-8", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"]
    {
        let r = c.send_with("POST", "/v1/exec", &[("content-type", content_type)], body.clone()).await;
        assert_eq!(code(&r), (415, "UNSUPPORTED_MEDIA_TYPE".into()), "{content_type}");
    }
    let r = c.send_with("POST", "/v1/sessions", &[("content-type", "text/plain")], b"{}".to_vec()).await;
    assert_eq!(code(&r), (415, "UNSUPPORTED_MEDIA_TYPE".into()));
    // A type no page sends unasked passes the screen, and a JSON route still refuses it, naming what it wants.
    let r = c.send_with("POST", "/v1/exec", &[("content-type", "application/octet-stream")], body.clone()).await;
    assert_eq!(code(&r), (415, "UNSUPPORTED_MEDIA_TYPE".into()));
    assert!(r.json()["message"].as_str().unwrap().contains("application/json"), "{}", r.json());
    assert_eq!(c.get("/v1/sessions").await.json()["count"], 0, "no session was made");
}

#[tokio::test]
async fn dns_rebinding_is_refused_in_local_mode() {
    let agent = Agent::start_with(&["--multi-sandbox", "{dir}"]);
    let mut c = agent.client().await.for_sandbox("victim");
    let r = c.send_with("GET", "/v1/sessions", &[("host", "rebind.evil.example:3000")], Vec::new()).await;
    assert_eq!(code(&r), (403, "CROSS_SITE_REFUSED".into()));
    for host in ["127.0.0.1:3000", "localhost:3000", "[::1]:3000"] {
        let r = c.send_with("GET", "/v1/sessions", &[("host", host)], Vec::new()).await;
        assert_eq!(r.status, 200, "{host}");
    }
}

#[tokio::test]
async fn programs_still_pass() {
    let agent = Agent::start();
    let mut c = agent.client().await;
    // In a container the agent is reached under whatever name the platform uses.
    let r = c.send_with("GET", "/v1/health", &[("host", "container")], Vec::new()).await;
    assert_eq!(r.status, 200);
    let r = c
        .send_with(
            "POST",
            "/v1/exec",
            &[("content-type", "application/json; charset=utf-8")],
            br#"{"command":"echo ok"}"#.to_vec(),
        )
        .await;
    assert_eq!(r.json()["stdout"], "ok");
}
