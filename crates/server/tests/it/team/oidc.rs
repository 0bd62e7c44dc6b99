//! Sign-in through a real OIDC provider: the npm `oidc-provider` package (a
//! certified OIDC provider), started by the test with node, driven by a
//! browser-like client (cookies, redirects, its login and consent forms).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use codexos_server::team::client::TeamClient;
use codexos_server::team::oidc::OidcConfig;
use reqwest::StatusCode;
use tokio::io::AsyncBufReadExt as _;
use tokio_util::sync::CancellationToken;

use codexos_server::team::roles::Role;

use super::{roomy, start, start_with, Extras, Server};

const CLIENT_SECRET: &str = "a-client-secret-only-the-server-knows";

/// The provider process (stopped when dropped).
struct Provider {
    issuer: String,
    _child: tokio::process::Child,
}

fn ui() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../ui")
}

async fn provider(redirect_uri: &str) -> Provider {
    assert!(
        ui().join("node_modules/oidc-provider/package.json")
            .is_file(),
        "the OIDC tests need the `oidc-provider` package: run `npm ci` in ui/"
    );
    let mut child = tokio::process::Command::new("node")
        .arg("e2e/oidc-provider.mjs")
        .arg(redirect_uri)
        .arg(CLIENT_SECRET)
        .current_dir(ui())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("node runs (the OIDC tests need Node.js)");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = tokio::io::BufReader::new(stdout).lines();
    let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
        .await
        .expect("the provider starts within 30 s")
        .expect("read")
        .expect("a line");
    let issuer = line.strip_prefix("ready ").expect("ready line").to_owned();
    // Keep reading what it prints: a closed pipe would stop it.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Provider {
        issuer,
        _child: child,
    }
}

/// A team server that signs in through a fresh provider too.
async fn with_provider() -> (Server, Provider) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("a free port")
        .local_addr()
        .expect("address")
        .port();
    let public_url = format!("http://127.0.0.1:{port}");
    let provider = provider(&format!("{public_url}/api/v1/oidc/callback")).await;
    let server = start_with(
        roomy(),
        Extras {
            oidc: Some(OidcConfig {
                issuer: provider.issuer.clone(),
                client_id: "codexos".to_owned(),
                client_secret: Some(CLIENT_SECRET.to_owned()),
                public_url,
                claim: "preferred_username".to_owned(),
            }),
            port,
            ..Extras::default()
        },
    )
    .await;
    // Accounts made for single sign-on (no password).
    for (name, role) in [("erin", Role::Executor), ("carl", Role::Creator)] {
        server.team.add_account(name, None).expect("account");
        server
            .team
            .set_role("team", None, name, role)
            .expect("role");
    }
    (server, provider)
}

/// A browser: a cookie jar, redirects followed.
fn new_browser() -> reqwest::Client {
    codexos_net::client()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::limited(20))
        .build()
        .expect("browser")
}

/// The `action` of the first form of `page`, made absolute against `url`.
fn form_action(page: &str, url: &reqwest::Url) -> reqwest::Url {
    let action = page
        .split("action=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a form");
    url.join(&action.replace("&amp;", "&")).expect("action URL")
}

/// Opens `start`, signs in at the provider as `login` and consents: the
/// page the browser ends on.
async fn through_provider(
    browser: &reqwest::Client,
    start: &str,
    login: &str,
) -> (StatusCode, reqwest::Url, String) {
    let mut response = browser.get(start).send().await.expect("open");
    for _ in 0..4 {
        let (status, url) = (response.status(), response.url().clone());
        if status.is_redirection() {
            // A redirect the browser was told not to follow: where it goes.
            let location = response.headers()["location"].to_str().expect("location");
            return (
                status,
                url.clone(),
                url.join(location).expect("URL").to_string(),
            );
        }
        let page = response.text().await.expect("page");
        let form: Vec<(&str, &str)> = if page.contains("name=\"prompt\" value=\"login\"") {
            vec![("prompt", "login"), ("login", login), ("password", "any")]
        } else if page.contains("name=\"prompt\" value=\"consent\"") {
            vec![("prompt", "consent")]
        } else {
            return (status, url, page);
        };
        response = browser
            .post(form_action(&page, &url))
            .form(&form)
            .send()
            .await
            .expect("submit");
    }
    panic!("the provider kept asking");
}

#[tokio::test(flavor = "multi_thread")]
async fn oidc_sign_in_through_a_real_provider_makes_a_session_for_the_linked_account() {
    let (server, _provider) = with_provider().await;
    let browser = new_browser();
    let login = format!("{}/api/v1/oidc/login", server.base);
    // Positive control: `erin` (an account made for single sign-on) signs
    // in at the provider and holds a session.
    let (status, url, page) = through_provider(&browser, &login, "erin").await;
    assert_eq!(status, StatusCode::OK, "{url}: {page}");
    assert!(url.path().ends_with("/api/v1/oidc/callback"), "{url}");
    assert!(
        page.contains("signed in to CodexOS as <b>erin</b>"),
        "{page}"
    );
    let me = browser
        .get(format!("{}/api/v1/me", server.base))
        .send()
        .await
        .expect("me");
    assert_eq!(me.status(), StatusCode::OK);
    assert_eq!(
        me.json::<serde_json::Value>().await.expect("json")["account"],
        "erin"
    );
    // A password account is not taken over by a provider user of its name.
    let (status, _, page) = through_provider(&new_browser(), &login, "olga").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{page}");
    assert!(page.contains("signs in with a password"), "{page}");

    // No account of that name on the server: refused, and none is made.
    let (status, _, page) = through_provider(&new_browser(), &login, "nobody").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{page}");
    assert!(page.contains("no CodexOS account `nobody`"), "{page}");
    assert!(server
        .team
        .accounts()
        .expect("accounts")
        .iter()
        .all(|account| account.name != "nobody"));
    // Another identity claiming erin's name is not erin.
    let (status, _, page) = through_provider(&new_browser(), &login, "other-erin").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{page}");
    assert!(page.contains("another identity"), "{page}");
    // A sign-in's callback works only in the browser that started it
    // (login CSRF): stopped before the callback, the same URL is refused in
    // another browser and accepted in its own.
    let stopping = codexos_net::client()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::custom(|attempt| {
            if attempt.url().path().ends_with("/oidc/callback") {
                attempt.stop()
            } else {
                attempt.follow()
            }
        }))
        .build()
        .expect("browser");
    let (status, _, callback) = through_provider(&stopping, &login, "erin").await;
    assert!(status.is_redirection(), "{status} {callback}");
    let elsewhere = new_browser().get(&callback).send().await.expect("callback");
    assert_eq!(elsewhere.status(), StatusCode::UNAUTHORIZED);
    assert!(elsewhere
        .text()
        .await
        .expect("page")
        .contains("not started in this browser"));
    let here = stopping.get(&callback).send().await.expect("callback");
    assert_eq!(here.status(), StatusCode::OK);
    // A callback nobody started is refused.
    let forged = new_browser()
        .get(format!(
            "{}/api/v1/oidc/callback?code=x&state=forged",
            server.base
        ))
        .send()
        .await
        .expect("callback");
    assert_eq!(forged.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_app_signs_in_through_the_browser_after_the_person_confirms_its_code() {
    let (server, _provider) = with_provider().await;
    let (started, secret) = TeamClient::start_oidc(&server.base);
    let cancel = CancellationToken::new();
    let soon = || Instant::now() + Duration::from_millis(10);
    // Nothing to collect before the browser has been through the provider.
    let timed_out = |result: &Result<_, codexos_server::team::client::ClientError>| matches!(result, Err(codexos_server::team::client::ClientError::Refused { code, .. }) if code == "timeout");
    let early = TeamClient::finish_oidc(&started, &secret, soon(), &cancel).await;
    assert!(timed_out(&early), "collected before signing in");
    let browser = new_browser();
    let (status, url, page) = through_provider(&browser, &started.url, "carl").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    // The page shows the app's code and asks to confirm; not yet collected.
    assert!(
        page.contains(&started.code),
        "{} not in {page}",
        started.code
    );
    let pending = TeamClient::finish_oidc(&started, &secret, soon(), &cancel).await;
    assert!(timed_out(&pending), "collected before the person confirmed");
    // The app's link works once: opened again (by anyone), it is refused.
    let again = new_browser().get(&started.url).send().await.expect("again");
    assert_eq!(again.status(), StatusCode::CONFLICT);
    let confirm = page
        .split("name=confirm value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("confirm token");
    let done = browser
        .post(form_action(&page, &url))
        .form(&[("confirm", confirm)])
        .send()
        .await
        .expect("confirm");
    assert_eq!(done.status(), StatusCode::OK);
    // The browser itself got no session: the app does.
    let me = browser
        .get(format!("{}/api/v1/me", server.base))
        .send()
        .await
        .expect("me");
    assert_eq!(me.status(), StatusCode::UNAUTHORIZED);
    let (client, session) = TeamClient::finish_oidc(&started, &secret, soon(), &cancel)
        .await
        .expect("the app collects its session");
    assert_eq!(session.account, "carl");
    assert!(client
        .flows("team")
        .await
        .expect("flows")
        .iter()
        .any(|flow| flow.name == "gate"));
    // Once only.
    let twice = TeamClient::finish_oidc(&started, &secret, soon(), &cancel).await;
    assert!(timed_out(&twice), "collected twice");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_without_oidc_says_so() {
    let server = start(roomy()).await;
    let response = new_browser()
        .get(format!("{}/api/v1/oidc/login", server.base))
        .send()
        .await
        .expect("login");
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert!(response
        .text()
        .await
        .expect("page")
        .contains("no OIDC sign-in"));
}
