//! Egress control in a local jail (`PUT /v1/network/policy`), attacked from inside as code in a sandbox would:
//! through the proxy and around it (no proxy, a raw address, UDP, its own routes, a background job). The hosts
//! it reaches are the test's own (a network namespace with a server in it, and this machine's loopback). Needs
//! root (for the test's host), curl, slirp4netns and a jail; skipped, saying so, elsewhere.

use std::process::Command;

use crate::support::http::Reply;
use crate::support::*;

const JAIL: &[&str] = &["--multi-sandbox", "{dir}", "--isolate"];

fn ready() -> bool {
    if !jail_available() {
        return false;
    }
    let have = |tool: &str| Command::new(tool).arg("--version").output().is_ok();
    if !nix::unistd::geteuid().is_root() || !have("slirp4netns") || !have("curl") {
        eprintln!("skipped: egress tests need root (for the test's own host), slirp4netns and curl");
        return false;
    }
    true
}

async fn policy(client: &mut Client, policy: Value) -> Reply {
    let json = [("content-type", "application/json")];
    client.send_with("PUT", "/v1/network/policy", &json, policy.to_string().into_bytes()).await
}

/// What each way of reaching `url` got, one line each: the body, or `failed`.
async fn attempts(client: &mut Client, url: &str, udp: &str) -> String {
    let script = format!(
        "try() {{ out=$(\"$@\" 2>/dev/null) && echo \"$out\" || echo failed; }}; \
         try curl -sSf --max-time 5 {url}; \
         try curl -sSf --max-time 5 --noproxy '*' {url}; \
         try curl -sSf --max-time 5 -p {url}; \
         (try curl -sSf --max-time 5 --noproxy '*' {url} > /tmp/bg.out) & wait; cat /tmp/bg.out; \
         timeout 3 bash -c 'echo x > /dev/udp/{udp}' 2>/dev/null && echo udp-sent || echo udp-failed; \
         ip route add default dev lo 2>/dev/null && echo route-changed || echo route-refused"
    );
    client.run(None, &script).await["stdout"].as_str().unwrap_or_default().to_string()
}

/// Under an open policy the proxy and the direct way both reach the host; a deny rule shuts both (the direct one
/// is gone: its UDP, a raw address, a background job and a route of its own get nowhere); an allow-list opens
/// exactly the port it names; opening it again restores the direct way. Every refusal is counted and listed.
#[tokio::test]
async fn a_policy_holds_whatever_way_the_code_tries() {
    if !ready() {
        return;
    }
    let host = TestHost::start(Speaks::Http);
    let agent = Agent::start_with(JAIL);
    let mut a = agent.client().await.for_sandbox("box-e");
    let url = format!("http://{}:{}/", host.addr, host.port);
    let udp = format!("{}/{}", host.addr, host.port);
    let env = a.run(None, "echo $HTTPS_PROXY $NO_PROXY").await;
    assert_eq!(env["stdout"], "http://127.0.0.1:3128 localhost,127.0.0.1,::1", "{env}");

    let open = attempts(&mut a, &url, &udp).await;
    assert_eq!(open, format!("{HELLO}\n{HELLO}\n{HELLO}\n{HELLO}\nudp-sent\nroute-refused"), "open: {open}");

    let r = policy(&mut a, json!({ "deny": [host.addr.to_string()] })).await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.json()["policy"], json!({ "internet": true, "deny": [host.addr.to_string()] }));
    assert_eq!(r.json()["enforced"], true);
    let denied = attempts(&mut a, &url, &udp).await;
    assert_eq!(denied, "failed\nfailed\nfailed\nfailed\nudp-failed\nroute-refused", "denied: {denied}");
    // The proxy's refusal says why, to the program that asked.
    let said = a.run(None, &format!("curl -s --max-time 5 -w ' %{{http_code}}' {url}")).await;
    let said = said["stdout"].as_str().unwrap_or_default().to_string();
    assert!(said.contains("refused") && said.contains("denied by the rule") && said.ends_with(" 403"), "{said}");

    // An allow-list of one port: that port through the proxy, nothing else (not another port, not around it).
    let other = TestHost::start(Speaks::Http);
    let rule = format!("{}:{}", host.addr, host.port);
    let r = policy(&mut a, json!({ "allow": [rule] })).await;
    assert_eq!(r.json()["policy"]["internet"], false, "{}", String::from_utf8_lossy(&r.body));
    let listed = attempts(&mut a, &url, &udp).await;
    assert_eq!(listed, format!("{HELLO}\nfailed\n{HELLO}\nfailed\nudp-failed\nroute-refused"), "allow: {listed}");
    let elsewhere = a
        .run(
            None,
            &format!("curl -s --max-time 5 -o /dev/null -w '%{{http_code}}' http://{}:{}/", other.addr, other.port),
        )
        .await;
    assert_eq!(elsewhere["stdout"], "403", "{elsewhere}");

    let state = a.get("/v1/network/policy").await.json();
    assert_eq!((state["allowed"].as_u64(), state["denied"].as_u64()), (Some(4), Some(4)), "{state}");
    let last = &state["recentDenials"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["host"], other.addr.to_string(), "{state}");
    assert!(last["reason"].as_str().unwrap().contains("not allowed"), "{state}");
    // The sandbox's metrics count them by host.
    let metrics = String::from_utf8(a.get("/v1/metrics").await.body).unwrap();
    let line = format!("sandbox_egress_connections_total{{host=\"{}\",decision=\"denied\"}} 3", host.addr);
    assert!(metrics.contains(&line) && metrics.contains("sandbox_agent_commands_total"), "{metrics}");

    // Open again: the direct way is back.
    let r = policy(&mut a, json!({})).await;
    assert_eq!(r.json()["policy"], json!({ "internet": true }), "{}", String::from_utf8_lossy(&r.body));
    let reopened = attempts(&mut a, &url, &udp).await;
    assert_eq!(reopened, open, "reopened");
}

/// A new policy applies to connections made after it: a tunnel opened before a deny keeps going, a new one is
/// refused.
#[tokio::test]
async fn a_policy_change_applies_to_connections_made_after_it() {
    if !ready() {
        return;
    }
    let host = TestHost::start(Speaks::Echo);
    let agent = Agent::start_with(JAIL);
    let mut a = agent.client().await.for_sandbox("box-c");
    let target = format!("{}:{}", host.addr, host.port);
    // A tunnel made now, its request sent only once the gate opens.
    let script = format!(
        "(exec 3<>/dev/tcp/127.0.0.1/3128; printf 'CONNECT {target} HTTP/1.1\\r\\n\\r\\n' >&3; \
          read -r status <&3; read -r blank <&3; echo \"$status\" > /workspace/opened.tmp; mv /workspace/opened.tmp /workspace/opened; \
          until [ -e /workspace/gate ]; do sleep 0.02; done; \
          printf 'GET /kept HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n' >&3; cat <&3 > /workspace/after.tmp; \
          mv /workspace/after.tmp /workspace/after) > /dev/null 2>&1 &"
    );
    a.run(None, &script).await;
    let dir = agent.dir.join("box-c");
    until_exists(&dir.join("opened")).await;
    assert!(std::fs::read_to_string(dir.join("opened")).unwrap().contains(" 200 "));
    let json = [("content-type", "application/json")];
    let deny = json!({ "deny": [host.addr.to_string()] }).to_string().into_bytes();
    assert_eq!(a.send_with("PUT", "/v1/network/policy", &json, deny).await.status, 200);
    let now = a.run(None, &format!("curl -s -o /dev/null -w '%{{http_code}}' http://{target}/")).await;
    assert_eq!(now["stdout"], "403", "a new connection after the deny: {now}");
    std::fs::write(dir.join("gate"), "").unwrap();
    until_exists(&dir.join("after")).await;
    let after = std::fs::read_to_string(dir.join("after")).unwrap();
    assert!(after.contains("GET /kept HTTP/1.1"), "the tunnel made before the deny: {after}");
}

/// A terminal's programs are held to the policy as a command's are: through the proxy refused, around it nowhere.
#[tokio::test]
async fn a_terminal_is_held_to_the_policy_too() {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    use tokio_tungstenite::tungstenite::Message;
    if !ready() {
        return;
    }
    let host = TestHost::start(Speaks::Http);
    let agent = Agent::start_with(JAIL);
    let mut a = agent.client().await.for_sandbox("box-p");
    let json = [("content-type", "application/json")];
    let deny = json!({ "deny": [host.addr.to_string()] }).to_string().into_bytes();
    assert_eq!(a.send_with("PUT", "/v1/network/policy", &json, deny).await.status, 200);
    let mut request = format!("ws://{}/v1/pty?cols=120&rows=24", agent.addr).into_client_request().unwrap();
    request.headers_mut().insert("x-sandbox-id", "box-p".parse().unwrap());
    let (mut ws, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    let url = format!("http://{}:{}/", host.addr, host.port);
    // What is looked for is made by the shell, so the typed line's echo never matches it.
    let typed = format!(
        "curl -s -o /dev/null -w 'code%{{http_code}}' {url}; echo; \
         curl -s -m 3 --noproxy '*' {url} || echo direct-$((40+2))\r"
    );
    ws.send(Message::Binary(typed.into_bytes().into())).await.unwrap();
    let mut seen = Vec::new();
    let found = tokio::time::timeout(std::time::Duration::from_secs(15), async {
        while let Some(Ok(message)) = ws.next().await {
            if let Message::Binary(bytes) = message {
                seen.extend_from_slice(&bytes);
                let text = String::from_utf8_lossy(&seen);
                if text.contains("code403") && text.contains("direct-42") {
                    return true;
                }
            }
        }
        false
    })
    .await;
    assert_eq!(found, Ok(true), "{}", String::from_utf8_lossy(&seen));
}

/// A sandbox with no way out at all still serves its previews: a preview's request reaches the sandbox's port
/// through the agent, not through the sandbox's network.
#[tokio::test]
async fn previews_keep_working_under_a_closed_policy() {
    if !ready() {
        return;
    }
    let agent = Agent::start_with(JAIL);
    let mut a = agent.client().await.for_sandbox("box-v");
    let json = [("content-type", "application/json")];
    let closed = json!({ "internet": false }).to_string().into_bytes();
    assert_eq!(a.send_with("PUT", "/v1/network/policy", &json, closed).await.status, 200);
    let serve = json!({ "command": "exec python3 -m http.server 8123 --bind 127.0.0.1", "processId": "web" });
    assert_eq!(a.post("/v1/processes", serve).await.status, 201);
    let up = json!({ "condition": "port", "port": 8123, "timeout": 15000 });
    let r = a.post("/v1/processes/web/wait", up).await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let r = a.get("/v1/ports/8123/http/").await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert!(String::from_utf8_lossy(&r.body).contains("Directory listing"));
}

/// The machine's own loopback (the dev port, the agent, any service of the developer's) is not reachable through
/// the proxy under the open policy, nor by a name that resolves there; a rule naming the address with its port
/// opens that port alone.
#[tokio::test]
async fn the_machines_loopback_opens_only_to_a_rule_with_its_port() {
    if !ready() {
        return;
    }
    let service = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = service.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in service.incoming().flatten() {
            use std::io::{Read, Write};
            let mut stream = stream;
            let mut head = [0u8; 1024];
            let _ = stream.read(&mut head);
            let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
        }
    });
    let agent = Agent::start_with(JAIL);
    let mut a = agent.client().await.for_sandbox("box-l");
    let probe = |target: String| {
        format!("curl -s --max-time 5 --noproxy '' -o /dev/null -w '%{{http_code}} ' http://{target}/;")
    };
    let script = [
        probe(format!("127.0.0.1:{port}")),
        probe(format!("localhost:{port}")),
        probe(format!("[::ffff:127.0.0.1]:{port}")),
        probe(format!("127.0.0.1:{}", agent.addr.port())),
        probe("169.254.169.254".into()),
    ]
    .concat();
    let out = a.run(None, &script).await;
    assert_eq!(out["stdout"], "403 403 403 403 403 ", "{out}");
    let r = policy(&mut a, json!({ "internet": true, "allow": [format!("localhost:{port}")] })).await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let out = a.run(None, &script).await;
    assert_eq!(out["stdout"], "403 200 403 403 403 ", "only the name and port of the rule: {out}");
}

/// A secret goes into requests to its hosts only, in its header, and in place of its placeholder; another host
/// gets the placeholder; nothing in the sandbox (its environment, files, processes) or in the agent's log holds
/// the value; once deleted, it is sent no more.
#[tokio::test]
async fn a_secret_reaches_its_host_only_and_the_sandbox_never_sees_it() {
    if !ready() {
        return;
    }
    let (its, other) = (TestHost::start(Speaks::Echo), TestHost::start(Speaks::Echo));
    let log = scratch_dir("egress-log").join("agent.log");
    let file = std::fs::File::create(&log).unwrap();
    let agent = Agent::start_configured(JAIL, &[("SANDBOX_AGENT_LOG", "debug")], |c| {
        c.stderr(file);
    });
    let mut a = agent.client().await.for_sandbox("box-s");
    const VALUE: &str = "real-value-6f1d2c";
    const PLACEHOLDER: &str = "sandbox-secret-gh-0123456789abcdef";
    let json = [("content-type", "application/json")];
    let secret = json!({
        "name": "GH", "value": VALUE, "hosts": [format!("{}:{}", its.addr, its.port)], "placeholder": PLACEHOLDER,
    });
    let r = a.send_with("PUT", "/v1/network/secrets", &json, secret.to_string().into_bytes()).await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert!(!String::from_utf8_lossy(&r.body).contains(VALUE), "an answer holds the value");
    assert_eq!(r.json()["secrets"][0]["placeholder"], PLACEHOLDER);

    let script = format!(
        "curl -s http://{its}/; echo ---; curl -s -H 'X-Token: {PLACEHOLDER}' http://{other}/; echo ---; \
         (env; cat /proc/[0-9]*/environ /proc/[0-9]*/cmdline; grep -rs . /workspace /tmp /etc 2>/dev/null) \
         | grep -c 'real-value-6f1d2[c]'",
        its = format_args!("{}:{}", its.addr, its.port),
        other = format_args!("{}:{}", other.addr, other.port),
    );
    let out = a.run(None, &script).await["stdout"].as_str().unwrap_or_default().to_string();
    let parts: Vec<&str> = out.split("---").collect();
    assert!(parts[0].contains(&format!("Authorization: Bearer {VALUE}")), "its host: {out}");
    assert!(parts[1].contains(PLACEHOLDER) && !parts[1].contains(VALUE), "another host: {out}");
    assert!(!parts[1].to_ascii_lowercase().contains("authorization"), "another host: {out}");
    assert_eq!(parts[2].trim(), "0", "the value is somewhere in the sandbox: {out}");

    let r = a.delete("/v1/network/secrets/GH").await;
    assert_eq!(r.json()["secrets"], json!([]));
    let after = a.run(None, &format!("curl -s http://{}:{}/", its.addr, its.port)).await;
    assert!(!after["stdout"].as_str().unwrap().contains(VALUE), "{after}");
    assert_eq!(a.delete("/v1/network/secrets/GH").await.json()["code"], "SECRET_NOT_FOUND");
    drop(agent);
    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(logged.contains("secret set") && !logged.contains(VALUE), "the agent's log holds the value");
}

/// Over HTTPS too: the proxy opens a secret's host's tunnel with a certificate of the sandbox's own CA, which the
/// jail trusts (beside the host's roots), checks the real host's certificate itself, and writes the secret in.
/// A host with no secret gets its tunnel untouched: the sandbox sees the real certificate, and the placeholder
/// goes as written.
#[tokio::test]
async fn a_secret_reaches_its_https_host_through_the_sandboxs_own_ca() {
    if !ready() {
        return;
    }
    let (its, other) = (TestHost::start(Speaks::TlsEcho), TestHost::start(Speaks::TlsEcho));
    // A host whose certificate the proxy has no root for (a man in the middle of its own, say).
    let untrusted = TestHost::start(Speaks::TlsEcho);
    let trust = scratch_dir("egress-trust").join("roots.pem");
    std::fs::write(&trust, format!("{}{}", its.ca_pem, other.ca_pem)).unwrap();
    let trust = trust.to_string_lossy().into_owned();
    let agent = Agent::start_with(&["--multi-sandbox", "{dir}", "--isolate", "--egress-trust", &trust]);
    let mut a = agent.client().await.for_sandbox("box-t");
    const VALUE: &str = "tls-value-4b9e01";
    const PLACEHOLDER: &str = "sandbox-secret-tls-0123456789abcdef";
    let json = [("content-type", "application/json")];
    let secret = json!({
        "name": "TLS", "value": VALUE, "placeholder": PLACEHOLDER,
        "hosts": [format!("{}:{}", its.addr, its.port), format!("{}:{}", untrusted.addr, untrusted.port)],
    });
    let r = a.send_with("PUT", "/v1/network/secrets", &json, secret.to_string().into_bytes()).await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let write = json!({ "path": "/workspace/other-ca.pem", "content": other.ca_pem });
    assert_eq!(a.post("/v1/files/write", write).await.status, 200);
    let script = format!(
        "curl -sS https://{its}/; echo ---; \
         curl -sS --cacert /workspace/other-ca.pem -H 'Authorization: Bearer {PLACEHOLDER}' https://{other}/; echo ---; \
         grep -c BEGIN /etc/ssl/certs/ca-certificates.crt; echo $SSL_CERT_FILE; echo ---; \
         curl -s -w ' %{{http_code}}' https://{untrusted}/",
        untrusted = format_args!("{}:{}", untrusted.addr, untrusted.port),
        its = format_args!("{}:{}", its.addr, its.port),
        other = format_args!("{}:{}", other.addr, other.port),
    );
    let out = a.run(None, &script).await;
    let text = format!("{}{}", out["stdout"].as_str().unwrap_or_default(), out["stderr"].as_str().unwrap_or_default());
    let parts: Vec<&str> = text.split("---").collect();
    assert!(parts[0].contains(&format!("Authorization: Bearer {VALUE}")), "its host: {text}");
    assert!(parts[1].contains(&format!("Authorization: Bearer {PLACEHOLDER}")), "another host: {text}");
    assert!(!parts[1].contains(VALUE), "another host: {text}");
    let lines: Vec<&str> = parts[2].split_whitespace().collect();
    assert!(lines[0].parse::<u32>().unwrap() > 1, "the jail's bundle lost the host's roots: {text}");
    assert_eq!(lines[1], "/etc/ssl/certs/ca-certificates.crt");
    // The secret's host whose certificate does not check out gets nothing: the sandbox gets a 502 saying why.
    assert!(parts[3].contains("its TLS") && parts[3].ends_with(" 502") && !parts[3].contains(VALUE), "{text}");
}

/// Bad policies are refused with a reason and change nothing.
#[tokio::test]
async fn a_bad_policy_is_refused_and_the_last_one_kept() {
    if !jail_available() {
        return;
    }
    let agent = Agent::start_with(JAIL);
    let mut a = agent.client().await.for_sandbox("box-b");
    assert_eq!(policy(&mut a, json!({ "deny": ["evil.com"] })).await.status, 200);
    for bad in [
        json!({ "deny": ["not a host"] }),
        json!({ "allow": ["10.0.0.0/40"] }),
        json!({ "allow": "a.com" }),
        json!({ "internet": "yes" }),
        json!({ "deny": ["a.com"], "extra": 1 }),
        json!({ "allow": (0..300).map(|i| format!("h{i}.com")).collect::<Vec<_>>() }),
    ] {
        let r = policy(&mut a, bad.clone()).await;
        assert_eq!(
            (r.status, r.json()["code"].as_str().unwrap()),
            (400, "VALIDATION_FAILED"),
            "{bad}: {}",
            String::from_utf8_lossy(&r.body)
        );
    }
    let json = [("content-type", "application/json")];
    let r = a.send_with("PUT", "/v1/network/policy", &json, b"{not json".to_vec()).await;
    assert_eq!(r.json()["code"], "INVALID_JSON");
    assert_eq!(a.get("/v1/network/policy").await.json()["policy"]["deny"], json!(["evil.com"]));
}

/// Where the sandbox's processes share the agent's network (one agent, as in a container), a policy that
/// restricts anything is refused, not pretended, and the state says why.
#[tokio::test]
async fn where_it_cannot_be_enforced_a_restricting_policy_is_refused() {
    let agent = Agent::start();
    let mut c = agent.client().await;
    let r = policy(&mut c, json!({ "allow": ["api.github.com"] })).await;
    assert_eq!(
        (r.status, r.json()["code"].as_str().unwrap()),
        (501, "EGRESS_UNAVAILABLE"),
        "{}",
        String::from_utf8_lossy(&r.body)
    );
    let secret = json!({ "name": "K", "value": "v", "hosts": ["a.com"] }).to_string().into_bytes();
    let json = [("content-type", "application/json")];
    let r = c.send_with("PUT", "/v1/network/secrets", &json, secret).await;
    assert_eq!(r.json()["code"], "EGRESS_UNAVAILABLE");
    let state = c.get("/v1/network/policy").await.json();
    assert_eq!(state["enforced"], false);
    assert!(state["reason"].as_str().unwrap().contains("cannot be enforced"), "{state}");
    assert_eq!(policy(&mut c, json!({ "internet": true })).await.status, 200);
}
