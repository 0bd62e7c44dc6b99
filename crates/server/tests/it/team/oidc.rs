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
    // Positive control: `eve` signs in at the provider and holds a session.
    let (status, url, page) = through_provider(&browser, &login, "eve").await;
    assert_eq!(status, StatusCode::OK, "{url}: {page}");
    assert!(url.path().ends_with("/api/v1/oidc/callback"), "{url}");
    assert!(
        page.contains("signed in to CodexOS as <b>eve</b>"),
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
        "eve"
    );

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
    // Another identity claiming eve's name is not eve.
    let (status, _, page) = through_provider(&new_browser(), &login, "other-eve").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{page}");
    assert!(page.contains("another identity"), "{page}");
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
    let early = TeamClient::finish_oidc(&started, &secret, soon(), &cancel).await;
    assert!(early.is_err(), "collected before signing in");
    let browser = new_browser();
    let (status, url, page) = through_provider(&browser, &started.url, "cora").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    // The page shows the app's code and asks to confirm; not yet collected.
    assert!(
        page.contains(&started.code),
        "{} not in {page}",
        started.code
    );
    let pending = TeamClient::finish_oidc(&started, &secret, soon(), &cancel).await;
    assert!(pending.is_err(), "collected before the person confirmed");
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
    assert_eq!(session.account, "cora");
    assert!(client
        .flows("team")
        .await
        .expect("flows")
        .iter()
        .any(|flow| flow.name == "gate"));
    // Once only.
    let again = TeamClient::finish_oidc(&started, &secret, soon(), &cancel).await;
    assert!(again.is_err(), "collected twice");
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
