//! Bearer-token authorization (`--auth-token-file`, `--auth-groups`): which API groups need a
//! token, the tokens (kept only as SHA-256 digests, compared in constant time), and reloading
//! the file when it changes.
//!
//! The token file holds one token per line: `TOKEN` grants every restricted group, `TOKEN
//! group,group` only those. Blank lines and lines starting with `#` are skipped. A request
//! brings its token as `Authorization: Bearer TOKEN` (REST) or the `authorization` metadata
//! entry (gRPC). Health probes (`/v2/health/*`, model readiness, `ServerLive`, `ServerReady`,
//! `ModelReady`) are never restricted, so that orchestrators can probe without a secret.

use sha2::{Digest, Sha256};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};
use subtle::ConstantTimeEq;

/// How often the token file is looked at for changes.
pub const RELOAD_INTERVAL: Duration = Duration::from_secs(1);

/// The API groups a token can be restricted to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ApiGroup {
    /// Scoring: `POST .../infer`, gRPC `ModelInfer`.
    Inference,
    /// Ground truth: `POST .../feedback`.
    Feedback,
    /// Drift and live accuracy: `GET .../monitor`.
    Monitor,
    /// `GET /metrics`.
    Metrics,
    /// Server and model metadata: `GET /v2`, `GET /v2/models/NAME`, gRPC `ServerMetadata`,
    /// `ModelMetadata` (and the repository RPCs, which answer only errors).
    Metadata,
}

impl ApiGroup {
    pub const ALL: [ApiGroup; 5] =
        [ApiGroup::Inference, ApiGroup::Feedback, ApiGroup::Monitor, ApiGroup::Metrics, ApiGroup::Metadata];

    pub fn name(self) -> &'static str {
        match self {
            ApiGroup::Inference => "inference",
            ApiGroup::Feedback => "feedback",
            ApiGroup::Monitor => "monitor",
            ApiGroup::Metrics => "metrics",
            ApiGroup::Metadata => "metadata",
        }
    }

    pub fn from_name(name: &str) -> Option<ApiGroup> {
        ApiGroup::ALL.into_iter().find(|g| g.name() == name)
    }

    /// The group of a REST route (axum's matched path); `None` for the health probes.
    pub fn of_route(route: &str) -> Option<ApiGroup> {
        if route.starts_with("/v2/health/") || route.ends_with("/ready") {
            None
        } else if route.ends_with("/infer") {
            Some(ApiGroup::Inference)
        } else if route.ends_with("/feedback") {
            Some(ApiGroup::Feedback)
        } else if route.ends_with("/monitor") {
            Some(ApiGroup::Monitor)
        } else if route == "/metrics" {
            Some(ApiGroup::Metrics)
        } else {
            Some(ApiGroup::Metadata)
        }
    }

    /// The group of a gRPC method of `inference.GRPCInferenceService`; `None` for the health
    /// RPCs. An unknown method is `Metadata`, so that it is refused like the rest when the
    /// caller has no token, rather than answered UNIMPLEMENTED.
    pub fn of_rpc(method: &str) -> Option<ApiGroup> {
        match method {
            "ServerLive" | "ServerReady" | "ModelReady" => None,
            "ModelInfer" => Some(ApiGroup::Inference),
            _ => Some(ApiGroup::Metadata),
        }
    }
}

/// Parses `--auth-groups`: a comma-separated list of group names.
pub fn parse_groups(text: &str) -> Result<BTreeSet<ApiGroup>, String> {
    let mut groups = BTreeSet::new();
    for name in text.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        let group = ApiGroup::from_name(name).ok_or_else(|| {
            let known: Vec<&str> = ApiGroup::ALL.iter().map(|g| g.name()).collect();
            format!("unknown API group `{name}`; the groups are {}", known.join(", "))
        })?;
        groups.insert(group);
    }
    Ok(groups)
}

/// Why a request was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// No `Authorization` header, or not `Bearer <token>`: 401.
    Missing,
    /// A token that is not in the file: 401.
    Unknown,
    /// A token from the file that does not grant this group: 403.
    Forbidden,
}

impl Refusal {
    /// The label of `pipec_auth_refusals_total`.
    pub fn reason(self) -> &'static str {
        match self {
            Refusal::Missing => "missing",
            Refusal::Unknown => "unknown_token",
            Refusal::Forbidden => "forbidden",
        }
    }

    pub fn message(self, group: ApiGroup) -> String {
        match self {
            Refusal::Missing => format!("the {} API needs a token: send `Authorization: Bearer <token>`", group.name()),
            Refusal::Unknown => "the token is not valid".to_string(),
            Refusal::Forbidden => format!("the token does not grant the {} API", group.name()),
        }
    }
}

/// One token of the file: its digest and the groups it grants.
#[derive(Clone)]
struct Token {
    digest: [u8; 32],
    groups: BTreeSet<ApiGroup>,
}

/// What was read from the token file, and how to tell that it changed.
struct Tokens {
    tokens: Vec<Token>,
    stamp: Option<(SystemTime, u64)>,
}

/// A token file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TokenFileError {
    #[error("cannot read the token file {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{path}:{line}: {message}")]
    Line { path: PathBuf, line: usize, message: String },
    #[error("the token file {path} holds no token")]
    Empty { path: PathBuf },
}

/// The server's authorization: `None` in [`super::http::AppState`] when no token file is set.
pub struct Auth {
    path: PathBuf,
    restricted: BTreeSet<ApiGroup>,
    tokens: RwLock<Arc<Tokens>>,
}

impl Auth {
    /// Reads the token file; `restricted` are the groups that need a token.
    pub fn open(path: &Path, restricted: BTreeSet<ApiGroup>) -> Result<Auth, TokenFileError> {
        let tokens = read_tokens(path)?;
        Ok(Auth { path: path.to_path_buf(), restricted, tokens: RwLock::new(Arc::new(tokens)) })
    }

    pub fn restricted(&self) -> impl Iterator<Item = ApiGroup> + '_ {
        self.restricted.iter().copied()
    }

    /// Whether the `Authorization` value `header` (absent: `None`) may use `group`
    /// (`None`: a health probe, always allowed).
    pub fn check(&self, group: Option<ApiGroup>, header: Option<&[u8]>) -> Result<(), Refusal> {
        let Some(group) = group.filter(|g| self.restricted.contains(g)) else { return Ok(()) };
        let token = header.and_then(bearer).ok_or(Refusal::Missing)?;
        let digest: [u8; 32] = Sha256::digest(token).into();
        let tokens = self.current();
        // Every token is compared, so the time taken does not tell which one matched.
        let mut granted = None;
        for entry in &tokens.tokens {
            if bool::from(entry.digest.ct_eq(&digest)) {
                granted = Some(entry.groups.contains(&group));
            }
        }
        match granted {
            Some(true) => Ok(()),
            Some(false) => Err(Refusal::Forbidden),
            None => Err(Refusal::Unknown),
        }
    }

    fn current(&self) -> Arc<Tokens> {
        match self.tokens.read() {
            Ok(tokens) => tokens.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Reads the file again when its modification time or size changed. A file that cannot be
    /// read or parsed now leaves the tokens as they were (and is logged), so that a
    /// half-written update does not lock every client out. Returns whether tokens changed.
    pub fn reload_if_changed(&self) -> bool {
        let stamp = file_stamp(&self.path);
        if stamp.is_some() && stamp == self.current().stamp {
            return false;
        }
        match read_tokens(&self.path) {
            Ok(tokens) => {
                tracing::info!(path = %self.path.display(), tokens = tokens.tokens.len(), "token file reloaded");
                self.replace(tokens);
                true
            }
            Err(e) => {
                tracing::error!(error = %e, "the token file changed but cannot be used; keeping the previous tokens");
                // The same tokens under the new stamp: not read (nor logged) again until the
                // file changes once more.
                self.replace(Tokens { tokens: self.current().tokens.clone(), stamp });
                false
            }
        }
    }

    fn replace(&self, tokens: Tokens) {
        match self.tokens.write() {
            Ok(mut slot) => *slot = Arc::new(tokens),
            Err(poisoned) => *poisoned.into_inner() = Arc::new(tokens),
        }
    }

    /// Looks at the file every [`RELOAD_INTERVAL`] for as long as the server runs.
    pub fn watch(self: &Arc<Auth>) {
        let auth = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(RELOAD_INTERVAL);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let Some(auth) = auth.upgrade() else { break };
                let _ = tokio::task::spawn_blocking(move || auth.reload_if_changed()).await;
            }
        });
    }
}

/// The token of an `Authorization: Bearer <token>` value (the scheme in any case).
fn bearer(header: &[u8]) -> Option<&[u8]> {
    let text = std::str::from_utf8(header).ok()?.trim();
    let (scheme, token) = text.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token.as_bytes())
}

fn file_stamp(path: &Path) -> Option<(SystemTime, u64)> {
    let meta = std::fs::metadata(path).ok()?;
    Some((meta.modified().ok()?, meta.len()))
}

fn read_tokens(path: &Path) -> Result<Tokens, TokenFileError> {
    let stamp = file_stamp(path);
    let text =
        std::fs::read_to_string(path).map_err(|source| TokenFileError::Read { path: path.to_path_buf(), source })?;
    let mut tokens = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let bad = |message: String| TokenFileError::Line { path: path.to_path_buf(), line: index + 1, message };
        let mut words = line.split_whitespace();
        let token = words.next().unwrap_or_default();
        let groups = match words.next() {
            None => ApiGroup::ALL.into_iter().collect(),
            Some(list) => parse_groups(list).map_err(bad)?,
        };
        if words.next().is_some() {
            return Err(bad("expected `TOKEN` or `TOKEN group,group` (a token has no spaces)".into()));
        }
        if groups.is_empty() {
            return Err(bad("the list of groups is empty".into()));
        }
        tokens.push(Token { digest: Sha256::digest(token.as_bytes()).into(), groups });
    }
    if tokens.is_empty() {
        return Err(TokenFileError::Empty { path: path.to_path_buf() });
    }
    Ok(Tokens { tokens, stamp })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn auth(text: &str, restricted: &str) -> (tempfile_path::TempPath, Auth) {
        let file = tempfile_path::TempPath::new(text);
        let auth = Auth::open(file.path(), parse_groups(restricted).expect("groups")).expect("tokens");
        (file, auth)
    }

    /// A file in the temporary folder, removed on drop.
    mod tempfile_path {
        pub struct TempPath(std::path::PathBuf);
        impl TempPath {
            pub fn new(text: &str) -> TempPath {
                static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
                let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let path = std::env::temp_dir().join(format!("pipec-auth-{}-{n}", std::process::id()));
                std::fs::write(&path, text).expect("write");
                TempPath(path)
            }
            pub fn path(&self) -> &std::path::Path {
                &self.0
            }
        }
        impl Drop for TempPath {
            fn drop(&mut self) {
                let _ = std::fs::remove_file(&self.0);
            }
        }
    }

    #[test]
    fn tokens_grant_their_groups_and_health_stays_open() {
        let (_file, auth) =
            auth("# clients\nalpha\nlabeler feedback,monitor\n\n", "inference,feedback,monitor,metrics,metadata");
        let inference = Some(ApiGroup::Inference);
        assert_eq!(auth.check(inference, Some(b"Bearer alpha")), Ok(()));
        assert_eq!(auth.check(inference, Some(b"bearer   alpha ")), Ok(()));
        assert_eq!(auth.check(inference, Some(b"Bearer labeler")), Err(Refusal::Forbidden));
        assert_eq!(auth.check(Some(ApiGroup::Feedback), Some(b"Bearer labeler")), Ok(()));
        assert_eq!(auth.check(inference, Some(b"Bearer alph")), Err(Refusal::Unknown));
        assert_eq!(auth.check(inference, Some(b"Basic alpha")), Err(Refusal::Missing));
        assert_eq!(auth.check(inference, Some(b"Bearer")), Err(Refusal::Missing));
        assert_eq!(auth.check(inference, None), Err(Refusal::Missing));
        assert_eq!(auth.check(None, None), Ok(()));
    }

    #[test]
    fn unrestricted_groups_need_no_token() {
        let (_file, auth) = auth("alpha\n", "feedback");
        assert_eq!(auth.check(Some(ApiGroup::Inference), None), Ok(()));
        assert_eq!(auth.check(Some(ApiGroup::Feedback), None), Err(Refusal::Missing));
    }

    #[test]
    fn routes_and_rpcs_map_to_groups() {
        assert_eq!(ApiGroup::of_route("/v2/models/{name}/infer"), Some(ApiGroup::Inference));
        assert_eq!(ApiGroup::of_route("/v2/models/{name}/versions/{version}/infer"), Some(ApiGroup::Inference));
        assert_eq!(ApiGroup::of_route("/v2/models/{name}/feedback"), Some(ApiGroup::Feedback));
        assert_eq!(ApiGroup::of_route("/v2/models/{name}/monitor"), Some(ApiGroup::Monitor));
        assert_eq!(ApiGroup::of_route("/metrics"), Some(ApiGroup::Metrics));
        assert_eq!(ApiGroup::of_route("/v2"), Some(ApiGroup::Metadata));
        assert_eq!(ApiGroup::of_route("/v2/"), Some(ApiGroup::Metadata));
        assert_eq!(ApiGroup::of_route("/v2/models/{name}/versions/{version}"), Some(ApiGroup::Metadata));
        assert_eq!(ApiGroup::of_route("/v2/health/live"), None);
        assert_eq!(ApiGroup::of_route("/v2/models/{name}/ready"), None);
        assert_eq!(ApiGroup::of_rpc("ModelInfer"), Some(ApiGroup::Inference));
        assert_eq!(ApiGroup::of_rpc("ServerReady"), None);
        assert_eq!(ApiGroup::of_rpc("Anything"), Some(ApiGroup::Metadata));
    }

    #[test]
    fn bad_files_are_named_with_their_line() {
        let empty = tempfile_path::TempPath::new("# nothing\n\n");
        let e = Auth::open(empty.path(), BTreeSet::new()).err().expect("refused").to_string();
        assert!(e.contains("holds no token"), "{e}");
        let bad = tempfile_path::TempPath::new("alpha\nbeta inference,nope\n");
        let e = Auth::open(bad.path(), BTreeSet::new()).err().expect("refused").to_string();
        assert!(e.contains(":2: unknown API group `nope`"), "{e}");
        let spaced = tempfile_path::TempPath::new("alpha inference extra\n");
        let e = Auth::open(spaced.path(), BTreeSet::new()).err().expect("refused").to_string();
        assert!(e.contains(":1: expected `TOKEN`"), "{e}");
        assert!(Auth::open(Path::new("/nonexistent/tokens"), BTreeSet::new()).is_err());
    }

    #[test]
    fn a_changed_file_is_reloaded_and_a_broken_one_keeps_the_old_tokens() {
        let (file, auth) = auth("alpha\n", "inference");
        let inference = Some(ApiGroup::Inference);
        // A different size, so the change is seen even within one mtime tick.
        std::fs::write(file.path(), "bravo-longer\n").expect("write");
        assert!(auth.reload_if_changed());
        assert_eq!(auth.check(inference, Some(b"Bearer alpha")), Err(Refusal::Unknown));
        assert_eq!(auth.check(inference, Some(b"Bearer bravo-longer")), Ok(()));
        std::fs::write(file.path(), "").expect("write");
        assert!(!auth.reload_if_changed());
        assert_eq!(auth.check(inference, Some(b"Bearer bravo-longer")), Ok(()));
        assert!(!auth.reload_if_changed(), "unchanged since the failed read");
    }
}
