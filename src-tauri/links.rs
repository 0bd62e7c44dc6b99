//! `codexos://` links opened from the operating system (a browser, a chat,
//! a terminal's `xdg-open`): the app registers itself as their handler, a
//! link that starts the app or reaches the running one (one instance: a
//! second launch hands its link over and exits) waits here until the
//! window takes it, and the window shows it in the Team panel to open —
//! nothing is fetched from the link's server before the person asks.

#![allow(
    clippy::needless_pass_by_value,
    reason = "Tauri commands receive their arguments by value"
)]

use serde::Serialize;
use tauri::{Manager as _, State};
use tauri_plugin_deep_link::DeepLinkExt as _;
use tauri_specta::Event as _;

use crate::AppState;

/// The scheme of the app's links.
pub const SCHEME: &str = "codexos";

/// Set to `0` to leave the operating system's handler for `codexos://`
/// links as it is (the app registers itself at start otherwise).
pub const REGISTER_VARIABLE: &str = "CODEXOS_REGISTER_LINKS";

/// A share link opened from outside the app.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, specta::Type, tauri_specta::Event)]
#[serde(rename_all = "camelCase")]
pub struct LinkOpened {
    /// The server the link belongs to (`http(s)://host[:port]`).
    pub server: String,
    /// The link itself (`<id>-<signature>`).
    pub link: String,
    /// The link as opened, to show.
    pub url: String,
}

/// A `codexos://share?server=…&link=…` link, or `None` for anything else
/// (another path, a server that is not a plain http(s) origin, a link that
/// is not an id and a signature).
#[must_use]
pub fn parse(url: &str) -> Option<LinkOpened> {
    let parsed = url::Url::parse(url).ok()?;
    if parsed.scheme() != SCHEME || parsed.host_str() != Some("share") {
        return None;
    }
    let mut server = None;
    let mut link = None;
    for (key, value) in parsed.query_pairs() {
        match key.as_ref() {
            "server" if server.is_none() => server = Some(value.into_owned()),
            "link" if link.is_none() => link = Some(value.into_owned()),
            _ => return None,
        }
    }
    let server = url::Url::parse(&server?).ok()?;
    let origin_only = matches!(server.scheme(), "http" | "https")
        && server.host_str().is_some()
        && server.username().is_empty()
        && server.password().is_none()
        && server.query().is_none()
        && server.fragment().is_none()
        && matches!(server.path(), "" | "/");
    let link = link?;
    let well_formed = link.split_once('-').is_some_and(|(id, signature)| {
        !id.is_empty()
            && !signature.is_empty()
            && link.len() <= 200
            && link
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    });
    (origin_only && well_formed).then(|| LinkOpened {
        server: server.origin().ascii_serialization(),
        link,
        url: url.to_owned(),
    })
}

/// The link opened from outside, once: the window takes it when it starts
/// and whenever it is told a new one came.
#[tauri::command]
#[specta::specta]
pub fn link_pending(state: State<'_, AppState>) -> Option<LinkOpened> {
    state
        .link
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .take()
}

/// Keeps a link for the window, tells it, and brings the window forward.
fn deliver(app: &tauri::AppHandle, url: &str) {
    let Some(opened) = parse(url) else {
        // Not the link itself: it may carry a signature.
        tracing::warn!(
            length = url.len(),
            "a codexos:// link that is not a share link to a plain server was ignored"
        );
        return;
    };
    tracing::info!(server = %opened.server, "a codexos:// share link waits for the window");
    let state = app.state::<AppState>();
    *state
        .link
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(opened.clone());
    if let Err(error) = opened.emit(app) {
        tracing::warn!(%error, "the window was not told of the link");
    }
    bring_forward(app);
}

/// Shows the main window on top (a link or a second launch came in).
fn bring_forward(app: &tauri::AppHandle) {
    if let Some(window) = app.get_webview_window("main") {
        if let Err(error) = window.unminimize().and_then(|()| window.set_focus()) {
            tracing::debug!(%error, "the window could not be brought forward");
        }
    }
}

/// One app per data home: a second launch on the same home (the system
/// opening a `codexos://` link) hands its arguments to the running app
/// and exits; an app on another home (`CODEXOS_HOME`) runs beside it.
pub(crate) fn single_instance(home: &std::path::Path) -> tauri::plugin::TauriPlugin<tauri::Wry> {
    tauri_plugin_single_instance::Builder::new()
        .callback(|app, _argv, _cwd| bring_forward(app))
        .dbus_id(instance_id(home))
        .build()
}

/// The D-Bus name of the app on `home` (FNV-1a of its path: the same for
/// every build, no leading digit in the element).
fn instance_id(home: &std::path::Path) -> String {
    let hash = home
        .as_os_str()
        .as_encoded_bytes()
        .iter()
        .fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
            (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3)
        });
    format!("dev.codexos.desktop.home_{hash:016x}")
}

/// At start: registers the app as the `codexos://` handler (Linux and
/// Windows; macOS takes it from the bundle), and takes the links that
/// start it or reach it later.
pub(crate) fn setup(app: &tauri::App) {
    let links = app.deep_link();
    let register = std::env::var(REGISTER_VARIABLE).map_or(true, |value| value != "0");
    if register && cfg!(any(windows, target_os = "linux")) {
        // Off the start: on Linux it runs `xdg-mime` and friends.
        let handle = app.handle().clone();
        tauri::async_runtime::spawn_blocking(move || match handle.deep_link().register_all() {
            Ok(()) => tracing::info!("codexos:// links open this app"),
            Err(error) => tracing::warn!(
                %error,
                "codexos:// links were not registered with the system (on Linux: install xdg-utils); paste them into the Team panel"
            ),
        });
    }
    let handle = app.handle().clone();
    links.on_open_url(move |event| {
        for url in event.urls() {
            deliver(&handle, url.as_str());
        }
    });
    // The link that started the app came in before the listener: it is
    // the plugin's current one.
    match links.get_current() {
        Ok(urls) => {
            for url in urls.unwrap_or_default() {
                deliver(app.handle(), url.as_str());
            }
        }
        Err(error) => tracing::warn!(%error, "the link that started the app could not be read"),
    }
}

#[cfg(test)]
mod tests {
    use super::{instance_id, parse};

    #[test]
    fn each_data_home_is_its_own_instance() {
        let one = instance_id(std::path::Path::new("/home/ada/.local/share/codexos"));
        assert_eq!(
            one,
            instance_id(std::path::Path::new("/home/ada/.local/share/codexos"))
        );
        assert_ne!(one, instance_id(std::path::Path::new("/tmp/other-home")));
        assert!(
            one.starts_with("dev.codexos.desktop.home_") && one.len() == 41,
            "{one}"
        );
    }

    #[test]
    fn only_share_links_to_a_plain_server_are_taken() {
        let link = "0123456789abcdef-0123456789abcdef0123456789abcdef";
        let opened = parse(&format!(
            "codexos://share?server=http%3A%2F%2F127.0.0.1%3A7420&link={link}"
        ))
        .expect("a share link");
        assert_eq!(
            (opened.server.as_str(), opened.link.as_str()),
            ("http://127.0.0.1:7420", link)
        );
        let https = parse(&format!(
            "codexos://share?link={link}&server=https://team.example.com/"
        ))
        .expect("https, either order, trailing slash");
        assert_eq!(https.server, "https://team.example.com");
        for refused in [
            format!("codexos://other?server=http://h&link={link}"),
            format!("https://share?server=http://h&link={link}"),
            format!("codexos://share?server=file:///etc/passwd&link={link}"),
            format!("codexos://share?server=http://user:pw@h&link={link}"),
            format!("codexos://share?server=http://h/path&link={link}"),
            format!("codexos://share?server=http://h&link={link}&extra=1"),
            format!("codexos://share?server=http://h&server=http://evil&link={link}"),
            "codexos://share?server=http://h&link=../../etc".to_owned(),
            "codexos://share?server=http://h&link=nodash".to_owned(),
            format!("codexos://share?link={link}"),
            "not a url".to_owned(),
        ] {
            assert_eq!(parse(&refused), None, "{refused}");
        }
    }
}
